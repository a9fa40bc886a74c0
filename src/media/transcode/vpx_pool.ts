/**
 * VP8/VP9 encoding in a Worker ({@link ./vpx_worker.ts}), like the Opus
 * pool: requests by sequence number, a Worker that dies is replaced and
 * each stream gets a new encoder (starting with a key frame) on its next
 * frame.
 *
 * @module
 */
import { RestartingWorker } from "../../worker/mod.ts";

/** Parameters of one video stream (from the call's offer). */
export interface VpxStreamParams {
  codec: "vp8" | "vp9";
  width: number;
  height: number;
  frameRate: number;
  /** bit/s, the offer's unit. */
  bitrate: number;
}

/** The libav.js .wasm build shipped in the npm package (LGPL-2.1; replaceable: `calls.libav_wasm`). */
export function defaultLibavWasm(): string {
  const entry = new URL(import.meta.resolve("@libav.js/variant-webm-vp9"));
  return new URL("./libav-6.10.9.0-webm-vp9.wasm.wasm", entry).pathname;
}

/** Null when this process may read `wasmPath` (so the Worker may too), else a one-line reason. */
export function vpxUnavailable(wasmPath: string): string | null {
  const state = Deno.permissions.querySync({ name: "read", path: wasmPath }).state;
  return state === "granted"
    ? null
    : `VP8 transcoding needs read access to ${wasmPath} (--allow-read=${wasmPath})`;
}

interface Stream {
  params: VpxStreamParams;
  generation: number;
  /** The next frame must be a key frame (first frame, restart, request). */
  key: boolean;
}

/** One libav.js Worker and the video streams it encodes. */
export class VpxWorkerPool {
  readonly #wasmPath: string;
  readonly #worker: RestartingWorker<{ packet?: Uint8Array; key?: boolean }>;
  #nextId = 1;
  readonly #streams = new Map<number, Stream>();

  /** `wasmPath`: the libav.js .wasm build to load (default: the package's). */
  constructor(wasmPath = defaultLibavWasm()) {
    this.#wasmPath = wasmPath;
    this.#worker = new RestartingWorker({
      url: new URL("./vpx_worker.ts", import.meta.url),
      // Reads only the .wasm build; no net, write, env, run, FFI or sys.
      permissions: {
        read: [wasmPath],
        env: false,
        write: false,
        net: false,
        run: false,
        ffi: false,
        sys: false,
        import: false,
      },
      encoder: "video encoder",
      worker: "the video transcoding Worker",
    });
  }

  /** Times the Worker was restarted after dying. */
  get restarts(): number {
    return this.#worker.restarts;
  }

  /** Streams open now. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Opens a stream; its encoder is created in the Worker on the first frame. */
  open(params: VpxStreamParams): number {
    const id = this.#nextId++;
    this.#streams.set(id, { params, generation: 0, key: true });
    return id;
  }

  /** The next frame of stream `id` is encoded as a key frame. */
  forceKeyFrame(id: number): void {
    const s = this.#streams.get(id);
    if (s) s.key = true;
  }

  /** Encodes one planar I420 frame; resolves with the packet and whether it is a key frame. */
  async encode(id: number, i420: Uint8Array): Promise<{ packet: Uint8Array; key: boolean }> {
    const stream = this.#streams.get(id);
    if (!stream) throw new Error("the video stream is closed");
    const generation = this.#worker.ensure();
    if (stream.generation !== generation) {
      stream.generation = generation;
      stream.key = true;
      this.#worker.request({
        op: "open",
        id,
        wasmUrl: `file://${this.#wasmPath}`,
        ...stream.params,
      })
        .catch(() => {}); // its failure shows in the encode after it
    }
    const key = stream.key;
    stream.key = false;
    const reply = await this.#worker.request({ op: "encode", id, i420: i420.slice(), key });
    return { packet: reply.packet!, key: reply.key ?? false };
  }

  /** Closes a stream. */
  close(id: number): void {
    if (this.#streams.delete(id)) this.#worker.post({ op: "close", id });
  }

  /** Terminates the Worker as a crash would: in-flight frames fail, the next frame restarts it. */
  kill(): void {
    this.#worker.kill();
  }

  /** Stops the Worker for good. */
  shutdown(): void {
    this.#worker.shutdown();
    this.#streams.clear();
  }
}
