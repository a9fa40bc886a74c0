/**
 * RAW PCM → Opus in the Worker, checked by real decoders: `opusdec`
 * (opus-tools) and `ffmpeg` decode what the server sent to the listener,
 * with exactly the input's sample count after pre-skip and an SNR above
 * the measured threshold (32 kbit/s mono, two tones: 11.5 dB with opusdec, which dithers,
 * 14.9 dB with ffmpeg; the encoder is deterministic, so 10 dB leaves room only for a real fault). Skipped, loudly, where the tools are absent.
 */
import assert from "node:assert/strict";
import { FrameType } from "../../proto/mod.ts";
import { RouteError } from "../../router/mod.ts";
import { answeredCall, withCalls } from "../_test_harness.ts";
import { mediaPayload } from "../header.ts";
import { oggOpus } from "./ogg_opus.ts";
import { WasmTranscoder } from "./transcoder.ts";

function has(tool: string): boolean {
  try {
    return new Deno.Command(tool, { args: ["-h"], stdout: "null", stderr: "null" }).outputSync()
      .code !== 127;
  } catch {
    return false;
  }
}
const OPUSDEC = has("opusdec");
const FFMPEG = has("ffmpeg");
if (!OPUSDEC) console.warn("SKIPPED: opusdec (opus-tools) is not installed");
if (!FFMPEG) console.warn("SKIPPED: ffmpeg is not installed");

const RATE = 48_000;
const FRAMES = 50; // one second
/** Two tones, 440 Hz and 1300 Hz: speech-band content a voice codec must keep. */
function input(): Int16Array {
  const pcm = new Int16Array(RATE * FRAMES / 50);
  for (let i = 0; i < pcm.length; i++) {
    const t = i / RATE;
    pcm[i] = Math.round(
      6000 * Math.sin(2 * Math.PI * 440 * t) + 4000 * Math.sin(2 * Math.PI * 1300 * t),
    );
  }
  return pcm;
}

/** SNR in dB of `decoded` against `reference`, skipping the first 20 ms (encoder warm-up). */
function snr(reference: Int16Array, decoded: Int16Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 960; i < reference.length; i++) {
    signal += reference[i] ** 2;
    noise += (reference[i] - decoded[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

/** Encodes one second through a call (alice → bob) and returns bob's Ogg Opus file. */
async function encodeThroughCall(transcoder: WasmTranscoder): Promise<Uint8Array> {
  let ogg: Uint8Array | undefined;
  await withCalls(async (h) => {
    const { alice, bob } = await answeredCall(h, 1, "o", {
      audio: { codec: "opus", bitrate: 32_000, sample_rate: RATE, channels: 1, source: "raw" },
    });
    const pcm = input();
    // One frame of silence more: the encoder's lookahead holds back the input's last samples.
    const bytes = new Uint8Array(pcm.byteLength + 1920);
    bytes.set(new Uint8Array(pcm.buffer));
    for (let f = 0; f <= FRAMES; f++) {
      await h.media(
        alice,
        FrameType.VoiceFrame,
        1,
        mediaPayload(1, 1, bytes.subarray(f * 1920, (f + 1) * 1920)),
      );
    }
    const got = bob.of(FrameType.VoiceFrame).map((f) => f.payload);
    assert.equal(got.length, FRAMES + 1);
    for (const p of got) assert.deepEqual([...p.subarray(0, 3)], [1, 0, 0], "encoded Opus header");
    const call = h.calls.calls.get("o")!;
    const preSkip = transcoder.lookahead(call, "alice");
    assert.ok(preSkip > 0, "the encoder's lookahead is the pre-skip");
    ogg = oggOpus(got.map((p) => p.subarray(3)), {
      channels: 1,
      inputRate: RATE,
      preSkip,
      samples: pcm.length,
    });
  }, { transcoder });
  return ogg!;
}

async function run(cmd: string, args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 0, `${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

Deno.test({
  name: "opus: the server's Opus decodes with opusdec and ffmpeg: exact sample count, SNR ≥ 10 dB",
  ignore: !OPUSDEC && !FFMPEG,
  async fn() {
    const transcoder = new WasmTranscoder({ maxAudioStreams: 8 });
    const dir = await Deno.makeTempDir({ prefix: "commucat-opus-" });
    try {
      const file = `${dir}/call.opus`;
      await Deno.writeFile(file, await encodeThroughCall(transcoder));
      const reference = input();
      if (OPUSDEC) {
        await run("opusdec", ["--quiet", "--rate", "48000", "--force-wav", file, `${dir}/o.wav`]);
        const wav = await Deno.readFile(`${dir}/o.wav`);
        const at = findData(wav);
        const samples = new Int16Array(wav.slice(at.offset, at.offset + at.size).buffer);
        assert.equal(samples.length, reference.length, "opusdec: sample count after pre-skip");
        const db = snr(reference, samples);
        console.log(`opusdec SNR ${db.toFixed(1)} dB`);
        assert.ok(db >= 10, `opusdec SNR ${db} dB`);
      }
      if (FFMPEG) {
        const raw = await run("ffmpeg", [
          "-v",
          "error",
          "-i",
          file,
          "-f",
          "s16le",
          "-ac",
          "1",
          "-ar",
          "48000",
          "-",
        ]);
        const samples = new Int16Array(raw.slice().buffer);
        assert.equal(samples.length, reference.length, "ffmpeg: sample count after pre-skip");
        const db = snr(reference, samples);
        console.log(`ffmpeg SNR ${db.toFixed(1)} dB`);
        assert.ok(db >= 10, `ffmpeg SNR ${db} dB`);
      }
    } finally {
      transcoder.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The `data` chunk of a WAV file. */
function findData(wav: Uint8Array): { offset: number; size: number } {
  const v = new DataView(wav.buffer, wav.byteOffset);
  let at = 12;
  while (at + 8 <= wav.length) {
    const id = new TextDecoder().decode(wav.subarray(at, at + 4));
    const size = v.getUint32(at + 4, true);
    if (id === "data") return { offset: at + 8, size };
    at += 8 + size + (size & 1);
  }
  throw new Error("no data chunk");
}

Deno.test("opus: wrong RAW sizes and codecs are refused; a dead Worker is replaced", async () => {
  const transcoder = new WasmTranscoder({ maxAudioStreams: 2 });
  try {
    await withCalls(async (h) => {
      const alice = h.connect("alice");
      const bob = h.connect("bob");
      await h.send(alice, FrameType.Join, 1, { members: ["bob"] });
      const audio = {
        codec: "opus",
        bitrate: 16_000,
        sample_rate: 16_000,
        channels: 1,
        source: "raw",
      };
      await assert.rejects(
        h.send(alice, FrameType.CallOffer, 1, {
          call_id: "x",
          from: "a",
          to: [],
          media: { audio: { ...audio, sample_rate: 44_100 } },
        }),
        (e: unknown) =>
          e instanceof RouteError && e.code === "unavailable" && /44100 Hz/.test(e.message),
      );
      await h.send(alice, FrameType.CallOffer, 1, {
        call_id: "c",
        from: "a",
        to: [],
        media: { audio },
      });
      await h.send(bob, FrameType.CallAnswer, 1, { call_id: "c", accept: true });
      const refused = (e: unknown) => e instanceof RouteError && e.code === "invalid_payload";
      await assert.rejects(
        h.media(alice, FrameType.VoiceFrame, 1, mediaPayload(1, 1, new Uint8Array(1920))),
        refused,
      );
      await assert.rejects(
        h.media(alice, FrameType.VoiceFrame, 1, mediaPayload(1, 0, new Uint8Array(640))),
        refused,
      );
      await h.media(alice, FrameType.VoiceFrame, 1, mediaPayload(1, 1, new Uint8Array(640)));
      transcoder.pool.kill();
      await h.media(alice, FrameType.VoiceFrame, 1, mediaPayload(1, 1, new Uint8Array(640)));
      assert.equal(
        bob.of(FrameType.VoiceFrame).length,
        2,
        "the frame after the restart is encoded",
      );
      // Capacity: 2 streams, both reserved by this call.
      await h.send(alice, FrameType.Join, 2, { members: ["bob"] });
      await assert.rejects(
        h.send(alice, FrameType.CallOffer, 2, {
          call_id: "d",
          from: "a",
          to: [],
          media: { audio },
        }),
        (e: unknown) =>
          e instanceof RouteError && e.code === "unavailable" &&
          /transcode_audio_streams/.test(e.message),
      );
    }, { transcoder });
  } finally {
    transcoder.shutdown();
  }
});
