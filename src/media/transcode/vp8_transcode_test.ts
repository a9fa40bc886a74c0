/**
 * RAW I420 → VP8 in the libav.js Worker, checked by FFmpeg: `ffprobe`
 * counts exactly the frames sent and sees a key frame first, `ffmpeg`
 * decodes them with a PSNR against the source above the measured
 * threshold. Skipped, loudly, without FFmpeg.
 */
import assert from "node:assert/strict";
import { FrameType } from "../../proto/mod.ts";
import { RouteError } from "../../router/mod.ts";
import { answeredCall, withCalls } from "../_test_harness.ts";
import { isKeyFrame, mediaPayload, parseMediaPayload, VideoCodecId } from "../header.ts";
import { ivf } from "./ivf.ts";
import { WasmTranscoder } from "./transcoder.ts";

function has(tool: string): boolean {
  try {
    return new Deno.Command(tool, { args: ["-version"], stdout: "null", stderr: "null" })
      .outputSync().code === 0;
  } catch {
    return false;
  }
}
const FFMPEG = has("ffmpeg") && has("ffprobe");
if (!FFMPEG) console.warn("SKIPPED: ffmpeg/ffprobe are not installed");

const W = 160;
const H = 120;
const FPS = 30;
const FRAMES = 30;
const FRAME_BYTES = W * H + 2 * (W / 2) * (H / 2);

/** Frame `n` of a smooth moving pattern (planar I420). */
function source(n: number): Uint8Array {
  const f = new Uint8Array(FRAME_BYTES);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      f[y * W + x] = 128 + Math.round(60 * Math.sin((x + 2 * n) / 12) * Math.cos((y - n) / 15));
    }
  }
  for (let i = W * H; i < FRAME_BYTES; i++) f[i] = i < W * H * 5 / 4 ? 110 : 150;
  return f;
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

const VIDEO = {
  codec: "vp8",
  source: "raw",
  max_bitrate: 500_000,
  max_resolution: { width: W, height: H },
  frame_rate: FPS,
};
const AUDIO = { codec: "opus", bitrate: 16000, sample_rate: 48000, channels: 1 };

async function run(cmd: string, args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 0, `${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

Deno.test({
  name:
    "vp8: ffprobe counts every frame, the first is a key frame; PSNR against the source ≥ 40 dB (measured 49.3)",
  ignore: !FFMPEG,
  async fn() {
    const transcoder = new WasmTranscoder({ maxAudioStreams: 4, maxVideoStreams: 4 });
    const dir = await Deno.makeTempDir({ prefix: "commucat-vp8-" });
    try {
      const packets: Uint8Array[] = [];
      await withCalls(async (h) => {
        const { alice, bob } = await answeredCall(h, 1, "v", { audio: AUDIO, video: VIDEO });
        for (let n = 0; n < FRAMES; n++) {
          await h.media(
            alice,
            FrameType.VideoFrame,
            1,
            mediaPayload(1, VideoCodecId.raw_i420, source(n)),
          );
        }
        for (const f of bob.of(FrameType.VideoFrame)) {
          const media = parseMediaPayload("video", f.payload);
          assert.ok(
            typeof media !== "string" && media.source === 0 && media.codec === VideoCodecId.vp8,
          );
          packets.push(media.data);
        }
        const first = parseMediaPayload("video", bob.of(FrameType.VideoFrame)[0].payload);
        assert.ok(
          typeof first !== "string" && isKeyFrame(first),
          "the SFU sees the first frame as key",
        );
      }, { transcoder });
      assert.equal(packets.length, FRAMES);
      const file = `${dir}/call.ivf`;
      await Deno.writeFile(
        file,
        ivf(packets, { codec: "vp8", width: W, height: H, frameRate: FPS }),
      );
      const probe = JSON.parse(new TextDecoder().decode(
        await run("ffprobe", [
          "-v",
          "error",
          "-count_frames",
          "-show_streams",
          "-show_frames",
          "-of",
          "json",
          file,
        ]),
      )) as {
        streams: { codec_name: string; nb_read_frames: string; width: number }[];
        frames: { key_frame: number }[];
      };
      assert.equal(probe.streams[0].codec_name, "vp8");
      assert.equal(Number(probe.streams[0].nb_read_frames), FRAMES, "ffprobe: frame count");
      assert.equal(probe.streams[0].width, W);
      assert.equal(probe.frames[0].key_frame, 1, "ffprobe: the first frame is a key frame");
      const raw = await run("ffmpeg", [
        "-v",
        "error",
        "-i",
        file,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-",
      ]);
      assert.equal(raw.length, FRAMES * FRAME_BYTES);
      let worst = Infinity;
      for (let n = 0; n < FRAMES; n++) {
        worst = Math.min(
          worst,
          psnr(source(n), raw.subarray(n * FRAME_BYTES, (n + 1) * FRAME_BYTES)),
        );
      }
      console.log(`VP8 worst-frame PSNR ${worst.toFixed(1)} dB`);
      assert.ok(worst >= 40, `PSNR ${worst} dB`);
    } finally {
      transcoder.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("vp8: wrong I420 sizes are refused; a dead Worker restarts with a key frame", async () => {
  const transcoder = new WasmTranscoder({ maxAudioStreams: 4, maxVideoStreams: 2 });
  try {
    await withCalls(async (h) => {
      const { alice, bob } = await answeredCall(h, 1, "v", { audio: AUDIO, video: VIDEO });
      const refused = (e: unknown) => e instanceof RouteError && e.code === "invalid_payload";
      await assert.rejects(
        h.media(
          alice,
          FrameType.VideoFrame,
          1,
          mediaPayload(1, 0, new Uint8Array(FRAME_BYTES - 1)),
        ),
        refused,
      );
      await assert.rejects(
        h.media(alice, FrameType.VideoFrame, 1, mediaPayload(1, 1, new Uint8Array(FRAME_BYTES))),
        refused,
      );
      await h.media(alice, FrameType.VideoFrame, 1, mediaPayload(1, 0, source(0)));
      await h.media(alice, FrameType.VideoFrame, 1, mediaPayload(1, 0, source(1)));
      transcoder.video.kill();
      await h.media(alice, FrameType.VideoFrame, 1, mediaPayload(1, 0, source(2)));
      const keys = bob.of(FrameType.VideoFrame).map((f) =>
        isKeyFrame(parseMediaPayload("video", f.payload) as never)
      );
      assert.deepEqual(keys, [true, false, true], "a restarted encoder starts with a key frame");
      // Capacity: this call reserved both video streams.
      await h.send(alice, FrameType.Join, 2, { members: ["bob"] });
      await assert.rejects(
        h.send(alice, FrameType.CallOffer, 2, {
          call_id: "w",
          from: "a",
          to: [],
          media: { audio: AUDIO, video: VIDEO },
        }),
        (e: unknown) => e instanceof RouteError && /transcode_video_streams/.test(e.message),
      );
    }, { transcoder });
  } finally {
    transcoder.shutdown();
  }
});
