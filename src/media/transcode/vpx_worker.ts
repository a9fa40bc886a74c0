/**
 * The VP8/VP9 encoder Worker: libvpx inside libav.js (FFmpeg compiled to
 * WebAssembly, `@libav.js/variant-webm-vp9`, LGPL-2.1), one encoder per
 * stream, off the server's event loop. Spawned by {@link VpxWorkerPool}
 * with read access to the one .wasm file it loads and nothing else.
 *
 * Messages in: `{op:"open", id, seq, codec, width, height, frameRate,
 * bitrate, wasmUrl}`, `{op:"encode", id, seq, i420, key}`, `{op:"close",
 * id}`. Out: `{seq, packet, key}` or `{seq, error}`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import LibAVWrapper from "@libav.js/variant-webm-vp9";

// deno-lint-ignore no-explicit-any
type LibAV = any;
let libav: LibAV | null = null;

interface Stream {
  c: number;
  frame: number;
  pkt: number;
  width: number;
  height: number;
  pts: number;
}
const streams = new Map<number, Stream>();

interface Request {
  op: "open" | "encode" | "close";
  id: number;
  seq: number;
  codec?: "vp8" | "vp9";
  width?: number;
  height?: number;
  frameRate?: number;
  bitrate?: number;
  wasmUrl?: string;
  i420?: Uint8Array;
  key?: boolean;
}

/** Key frame flag of an FFmpeg AVPacket. */
const AV_PKT_FLAG_KEY = 1;
/** AVPictureType I: asks the encoder for a key frame. */
const AV_PICTURE_TYPE_I = 1;

async function open(r: Request): Promise<void> {
  libav ??= await (LibAVWrapper as LibAV).LibAV({
    noworker: true,
    nothreads: true,
    wasmurl: r.wasmUrl,
  });
  const [, c, frame, pkt] = await libav.ff_init_encoder(
    r.codec === "vp9" ? "libvpx-vp9" : "libvpx",
    {
      ctx: {
        // FFmpeg's libvpx wrapper takes bit/s (the offer's unit) and hands
        // libvpx kbit/s itself: upstream gave libvpx bit/s as kbit/s.
        bit_rate: r.bitrate,
        pix_fmt: libav.AV_PIX_FMT_YUV420P,
        width: r.width,
        height: r.height,
        framerate_num: r.frameRate,
        framerate_den: 1,
        gop_size: r.frameRate! * 10,
      },
      time_base: [1, r.frameRate!],
      // One packet per frame, at once: no look-ahead in a call.
      options: { deadline: "realtime", "cpu-used": "8", "lag-in-frames": "0" },
    },
  );
  streams.set(r.id, { c, frame, pkt, width: r.width!, height: r.height!, pts: 0 });
}

async function encode(r: Request): Promise<{ packet: Uint8Array; key: boolean }> {
  const s = streams.get(r.id);
  if (!s) throw new Error(`no encoder ${r.id}`);
  const w = s.width;
  const h = s.height;
  const cw = Math.ceil(w / 2);
  const frame = {
    data: r.i420,
    format: libav.AV_PIX_FMT_YUV420P,
    width: w,
    height: h,
    pts: s.pts++,
    layout: [{ offset: 0, stride: w }, { offset: w * h, stride: cw }, {
      offset: w * h + cw * Math.ceil(h / 2),
      stride: cw,
    }],
    ...(r.key ? { pict_type: AV_PICTURE_TYPE_I, key_frame: 1 } : {}),
  };
  const packets = await libav.ff_encode_multi(s.c, s.frame, s.pkt, [frame]);
  if (packets.length !== 1) throw new Error(`the encoder returned ${packets.length} packets`);
  const p = packets[0];
  return { packet: p.data, key: ((p.flags ?? 0) & AV_PKT_FLAG_KEY) !== 0 };
}

async function handle(r: Request): Promise<void> {
  try {
    if (r.op === "open") {
      await open(r);
      self.postMessage({ seq: r.seq });
    } else if (r.op === "encode") {
      self.postMessage({ seq: r.seq, ...(await encode(r)) });
    } else {
      const s = streams.get(r.id);
      streams.delete(r.id);
      if (s) await libav.ff_free_encoder(s.c, s.frame, s.pkt);
    }
  } catch (error) {
    self.postMessage({ seq: r.seq, error: error instanceof Error ? error.message : String(error) });
  }
}

// One request at a time, in order: an encode must not overtake its stream's open.
let chain = Promise.resolve();
self.onmessage = (event: MessageEvent<Request>) => {
  chain = chain.then(() => handle(event.data));
};
