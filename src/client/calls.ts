/**
 * Calls from the SDK: place, answer and end a call, send voice (RAW PCM the
 * server encodes to Opus, or Opus packets), read a WAV file into 20 ms
 * frames, and keep what arrives as an Ogg Opus file (docs/PROTOCOL.md
 * "Calls").
 *
 * @module
 */
import { FrameType } from "../proto/mod.ts";
import type { DecodedFrame } from "../proto/mod.ts";
import { AudioCodecId, mediaPayload, MediaSource, parseMediaPayload } from "../media/header.ts";
import { oggOpus } from "../media/transcode/ogg_opus.ts";
import type { CommuCatClient } from "./client.ts";

/** The audio of a call this client offers. */
export interface CallAudio {
  sampleRate: 8000 | 12000 | 16000 | 24000 | 48000;
  channels: 1 | 2;
  /** Opus bitrate, bit/s. */
  bitrate: number;
  /** True: this client sends RAW PCM and the server encodes it. */
  raw: boolean;
}

/**
 * Offers call `callId` from device `from` to the other members of `channel`;
 * resolves with the Ack (with TURN `ice_servers` when the server has some).
 */
export function offerCall(
  c: CommuCatClient,
  channel: number,
  callId: string,
  from: string,
  audio: CallAudio,
) {
  return c.request(FrameType.CallOffer, channel, {
    call_id: callId,
    from,
    to: [],
    media: {
      audio: {
        codec: "opus",
        bitrate: audio.bitrate,
        sample_rate: audio.sampleRate,
        channels: audio.channels,
        source: audio.raw ? "raw" : "encoded",
      },
    },
  });
}

/** Accepts (or declines) call `callId`. */
export function answerCall(c: CommuCatClient, channel: number, callId: string, accept = true) {
  return c.request(FrameType.CallAnswer, channel, {
    call_id: callId,
    accept,
    ...(accept ? {} : { reason: "decline" }),
  });
}

/** Ends call `callId` for everyone. */
export function endCall(
  c: CommuCatClient,
  channel: number,
  callId: string,
  reason: "hangup" | "cancel" = "hangup",
) {
  return c.request(FrameType.CallEnd, channel, { call_id: callId, reason });
}

/** Sends one 20 ms voice frame: RAW little-endian 16-bit PCM, or an Opus packet. */
export function sendVoice(c: CommuCatClient, channel: number, data: Uint8Array, raw: boolean) {
  const payload = raw
    ? mediaPayload(MediaSource.raw, AudioCodecId.raw_pcm, data)
    : mediaPayload(MediaSource.encoded, AudioCodecId.opus, data);
  return c.request(FrameType.VoiceFrame, channel, payload);
}

/** PCM audio read from a WAV file. */
export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** Little-endian 16-bit samples, interleaved. */
  pcm: Uint8Array;
}

/** Reads a 16-bit PCM WAV file; throws a one-line reason for anything else. */
export function parseWav(bytes: Uint8Array): WavAudio {
  const text = (at: number) => new TextDecoder().decode(bytes.subarray(at, at + 4));
  if (bytes.length < 12 || text(0) !== "RIFF" || text(8) !== "WAVE") {
    throw new Error("not a WAV file (no RIFF/WAVE header)");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: { sampleRate: number; channels: number } | null = null;
  for (let at = 12; at + 8 <= bytes.length;) {
    const size = v.getUint32(at + 4, true);
    if (text(at) === "fmt ") {
      const codec = v.getUint16(at + 8, true);
      const bits = v.getUint16(at + 22, true);
      if ((codec !== 1 && codec !== 0xfffe) || bits !== 16) {
        throw new Error(`the WAV file must be 16-bit PCM (format ${codec}, ${bits} bits)`);
      }
      format = { channels: v.getUint16(at + 10, true), sampleRate: v.getUint32(at + 12, true) };
    } else if (text(at) === "data") {
      if (!format) throw new Error("the WAV file has data before its fmt chunk");
      const end = Math.min(bytes.length, at + 8 + size);
      return { ...format, pcm: bytes.slice(at + 8, end - ((end - at - 8) % 2)) };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error("the WAV file has no data chunk");
}

/**
 * `audio` cut into 20 ms frames; the last is padded with silence, and one
 * frame of silence follows so the encoder's lookahead lets the end out.
 */
export function voiceFrames(audio: WavAudio): Uint8Array[] {
  const bytes = (audio.sampleRate / 50) * audio.channels * 2;
  const frames: Uint8Array[] = [];
  for (let at = 0; at < audio.pcm.length; at += bytes) {
    const frame = new Uint8Array(bytes);
    frame.set(audio.pcm.subarray(at, at + bytes));
    frames.push(frame);
  }
  frames.push(new Uint8Array(bytes));
  return frames;
}

/** The Opus packet of a received VoiceFrame, or null when it is not encoded Opus. */
export function opusPacket(frame: DecodedFrame): Uint8Array | null {
  if (frame.type !== FrameType.VoiceFrame) return null;
  const media = parseMediaPayload("audio", frame.payload);
  if (typeof media === "string" || media.source !== 0 || media.codec !== AudioCodecId.opus) {
    return null;
  }
  return media.data;
}

/**
 * An Ogg Opus file of received packets. `preSkip` is in 48 kHz samples
 * (libopus's lookahead, 312, unless the sender says otherwise).
 */
export function receivedOpusFile(
  packets: Uint8Array[],
  options: { channels: number; inputRate: number; preSkip?: number; samples?: number },
): Uint8Array {
  const preSkip = options.preSkip ?? 312;
  return oggOpus(packets, {
    channels: options.channels,
    inputRate: options.inputRate,
    preSkip,
    samples: options.samples ?? packets.length * 960 - preSkip,
  });
}
