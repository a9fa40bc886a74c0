/**
 * `commucat client call | answer`: place a call and send a WAV file (RAW
 * PCM the server encodes to Opus), or wait for a call, accept it and write
 * the voice that arrives to an Ogg Opus file.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import {
  answerCall,
  endCall,
  offerCall,
  opusPacket,
  parseWav,
  receivedOpusFile,
  sendVoice,
  startCoverTraffic,
  voiceFrames,
} from "../src/client/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { channelOption, modeOption } from "./client_options.ts";
import { profileNameOption } from "./client_profile.ts";
import { connect, fail } from "./client_session.ts";

const OPUS_RATES = [8000, 12000, 16000, 24000, 48000];

/** Adds `client call` and `client answer` to `client`; `profilePath` resolves `--profile`. */
export function registerCallCommands(
  client: Command,
  profilePath: (command: string, name: string | undefined) => string,
  profileHelp: string,
): void {
  client.command("call")
    .description("call the other members of a channel and send a 16-bit PCM WAV file as voice")
    .requiredOption("--channel <n>", "channel id", channelOption)
    .requiredOption("--wav <file>", "16-bit PCM WAV (8, 12, 16, 24 or 48 kHz; mono or stereo)")
    .option("--to <devices>", "comma-separated devices to add to the channel first")
    .option("--bitrate <bit/s>", "Opus bitrate the server encodes with", "32000")
    .option("--no-pace", "send as fast as acknowledged instead of one frame per 20 ms")
    .option("--cover", "cover traffic in the gaps of the audio (needs padding; PROTOCOL.md §2)")
    .option("--profile <name>", profileHelp, profileNameOption)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .action(async (o) => {
      const path = profilePath("call", o.profile);
      try {
        const audio = parseWav(await Deno.readFile(o.wav));
        if (!OPUS_RATES.includes(audio.sampleRate) || audio.channels < 1 || audio.channels > 2) {
          throw new Error(
            `${o.wav}: ${audio.sampleRate} Hz × ${audio.channels} ch; Opus takes 8, 12, 16, 24 ` +
              "or 48 kHz, mono or stereo",
          );
        }
        const bitrate = Number(o.bitrate);
        if (!Number.isInteger(bitrate) || bitrate < 6000 || bitrate > 510_000) {
          throw new Error("--bitrate must be an integer from 6000 to 510000 (bit/s)");
        }
        const { client: c, profile } = await connect(path, {
          mode: o.mode,
          acknowledgeDeliveries: true,
        });
        if (o.to) await c.join(o.channel, o.to.split(",").map((d) => d.trim()).filter(Boolean));
        const callId = crypto.randomUUID();
        await offerCall(c, o.channel, callId, profile.device_id, {
          sampleRate: audio.sampleRate as 48000,
          channels: audio.channels as 1 | 2,
          bitrate,
          raw: true,
        });
        console.log(`calling on channel ${o.channel} (call ${callId})`);
        // Someone must accept before media flows (the SFU sends only to accepted participants).
        while (true) {
          const f = await c.next();
          if (!f) throw new Error("the connection closed before anyone answered");
          const body = f.control as { call_id?: string; accept?: boolean; reason?: string };
          if (body?.call_id !== callId) continue;
          if (f.type === FrameType.CallEnd) throw new Error(`the call ended: ${body.reason}`);
          if (f.type === FrameType.CallAnswer && body.accept) break;
        }
        const frames = voiceFrames(audio);
        const cover = o.cover ? startCoverTraffic(c) : null;
        const started = performance.now();
        for (let i = 0; i < frames.length; i++) {
          if (o.pace) {
            const due = started + i * 20 - performance.now();
            if (due > 0) await new Promise((r) => setTimeout(r, due));
          }
          await sendVoice(c, o.channel, frames[i], true);
        }
        cover?.stop();
        await endCall(c, o.channel, callId);
        console.log(`sent ${frames.length} voice frames (${frames.length * 20} ms); call ended`);
        await c.closeGracefully();
      } catch (error) {
        fail("call", error);
      }
    });

  client.command("answer")
    .description("wait for a call, accept it and write the voice received to an Ogg Opus file")
    .requiredOption("--out <file>", "where the received voice goes (.opus)")
    .option("--channel <n>", "only a call on this channel", channelOption)
    .option("--profile <name>", profileHelp, profileNameOption)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .action(async (o) => {
      const path = profilePath("answer", o.profile);
      try {
        const { client: c } = await connect(path, { mode: o.mode, acknowledgeDeliveries: true });
        console.log("waiting for a call");
        let call: { id: string; channel: number; rate: number; channels: number } | null = null;
        const packets: Uint8Array[] = [];
        while (true) {
          const f = await c.next();
          if (!f) break;
          const body = f.control as {
            call_id?: string;
            media?: { audio?: { sample_rate?: number; channels?: number } };
          };
          if (call === null) {
            if (f.type !== FrameType.CallOffer || !body?.call_id) continue;
            if (o.channel !== undefined && f.channel !== o.channel) continue;
            call = {
              id: body.call_id,
              channel: f.channel,
              rate: body.media?.audio?.sample_rate ?? 48000,
              channels: body.media?.audio?.channels ?? 1,
            };
            await answerCall(c, call.channel, call.id, true);
            console.log(`answered call ${call.id} on channel ${call.channel}`);
            continue;
          }
          if (f.channel !== call.channel) continue;
          const packet = opusPacket(f);
          if (packet) packets.push(packet);
          if (f.type === FrameType.CallEnd && body?.call_id === call.id) break;
        }
        if (call === null) throw new Error("the connection closed before a call came");
        await Deno.writeFile(
          o.out,
          receivedOpusFile(packets, { channels: call.channels, inputRate: call.rate }),
        );
        console.log(`received ${packets.length} voice frames; wrote ${o.out}`);
        await c.closeGracefully();
      } catch (error) {
        fail("answer", error);
      }
    });
}
