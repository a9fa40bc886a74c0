/**
 * Transcoding capacity per core: encodes synthetic 48 kHz Opus and 480p30
 * VP8 streams in the same Workers the server uses, one frame at a time as a
 * call would, and reports how many real-time streams one core sustains
 * (`commucat bench transcode`).
 *
 * @module
 */
import { OpusWorkerPool } from "../src/media/transcode/opus_pool.ts";
import { VpxWorkerPool } from "../src/media/transcode/vpx_pool.ts";

/** Opus streams encoded at once. */
const OPUS_STREAMS = 32;

/** One measured codec. */
export interface TranscodeFigure {
  what: string;
  frames: number;
  seconds: number;
  /** Encoded media seconds per wall-clock second, i.e. real-time streams per core. */
  realtimeStreams: number;
}

/** Measures Opus (48 kHz mono 32 kbit/s and stereo 64 kbit/s) and VP8 (640×480, 30 fps, 750 kbit/s). */
export async function measureTranscoding(mediaSeconds = 5): Promise<TranscodeFigure[]> {
  const figures: TranscodeFigure[] = [];
  const opus = new OpusWorkerPool();
  try {
    for (const [channels, bitrate] of [[1, 32_000], [2, 64_000]] as const) {
      // Many streams at once, each in order: the Worker's message round trips overlap, as
      // in a server with many calls.
      const ids = Array.from(
        { length: OPUS_STREAMS },
        () => opus.open({ sampleRate: 48_000, channels, bitrate, fec: false, dtx: false }),
      );
      const frame = new Uint8Array(960 * channels * 2);
      const view = new DataView(frame.buffer);
      for (let i = 0; i < 960 * channels; i++) {
        view.setInt16(i * 2, Math.round(8000 * Math.sin(i / 7)), true);
      }
      // Worker start and encoder set-up are not measured.
      await Promise.all(ids.map((id) => opus.encode(id, frame)));
      const perStream = mediaSeconds * 50;
      const started = performance.now();
      await Promise.all(ids.map(async (id) => {
        for (let f = 0; f < perStream; f++) await opus.encode(id, frame);
      }));
      const seconds = (performance.now() - started) / 1000;
      figures.push({
        what: `Opus 48 kHz ${channels === 1 ? "mono" : "stereo"} ${bitrate / 1000} kbit/s`,
        frames: perStream * ids.length,
        seconds,
        realtimeStreams: (mediaSeconds * ids.length) / seconds,
      });
      for (const id of ids) opus.close(id);
    }
  } finally {
    opus.shutdown();
  }
  const vpx = new VpxWorkerPool();
  try {
    const [w, h, fps] = [640, 480, 30];
    const id = vpx.open({ codec: "vp8", width: w, height: h, frameRate: fps, bitrate: 750_000 });
    const frameOf = (n: number) => {
      const f = new Uint8Array(w * h * 3 / 2).fill(128);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) f[y * w + x] = (x + y + 3 * n) & 0xff;
      }
      return f;
    };
    await vpx.encode(id, frameOf(0));
    const frames = mediaSeconds * fps;
    const source = Array.from({ length: 30 }, (_, n) => frameOf(n + 1));
    const started = performance.now();
    for (let f = 0; f < frames; f++) await vpx.encode(id, source[f % source.length]);
    const seconds = (performance.now() - started) / 1000;
    figures.push({
      what: `VP8 ${w}×${h} ${fps} fps 750 kbit/s`,
      frames,
      seconds,
      realtimeStreams: mediaSeconds / seconds,
    });
  } finally {
    vpx.shutdown();
  }
  return figures;
}
