/**
 * VP8/VP9 encoding in a Worker ({@link ./vpx_worker.ts}), like the Opus
 * pool: requests by sequence number, a Worker that dies is replaced and
 * each stream gets a new encoder (starting with a key frame) on its next
 * frame.
 *
 * @module
 */

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

interface Pending {
  resolve(value: { packet?: Uint8Array; key?: boolean }): void;
  reject(error: Error): void;
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
  #worker: Worker | null = null;
  #generation = 0;
  #seq = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, Stream>();
  /** Times the Worker was restarted after dying. */
  restarts = 0;
  #closed = false;

  /** `wasmPath`: the libav.js .wasm build to load (default: the package's). */
  constructor(wasmPath = defaultLibavWasm()) {
    this.#wasmPath = wasmPath;
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
    const worker = this.#ensureWorker();
    if (stream.generation !== this.#generation) {
      stream.generation = this.#generation;
      stream.key = true;
      this.#request(worker, {
        op: "open",
        id,
        wasmUrl: `file://${this.#wasmPath}`,
        ...stream.params,
      })
        .catch(() => {}); // its failure shows in the encode after it
    }
    const key = stream.key;
    stream.key = false;
    const reply = await this.#request(worker, { op: "encode", id, i420: i420.slice(), key });
    return { packet: reply.packet!, key: reply.key ?? false };
  }

  /** Closes a stream. */
  close(id: number): void {
    if (!this.#streams.delete(id)) return;
    this.#worker?.postMessage({ op: "close", id, seq: ++this.#seq });
  }

  /** Terminates the Worker as a crash would: in-flight frames fail, the next frame restarts it. */
  kill(): void {
    this.#died("the video transcoding Worker was stopped");
  }

  /** Stops the Worker for good. */
  shutdown(): void {
    this.#closed = true;
    this.#died("the server is stopping");
    this.#streams.clear();
  }

  #ensureWorker(): Worker {
    if (this.#closed) throw new Error("the transcoder is shut down");
    if (this.#worker) return this.#worker;
    this.#generation++;
    const worker = new Worker(new URL("./vpx_worker.ts", import.meta.url), {
      type: "module",
      // Reads only the .wasm build; no net, write, env, run, FFI or sys.
      deno: {
        permissions: {
          read: [this.#wasmPath],
          env: false,
          write: false,
          net: false,
          run: false,
          ffi: false,
          sys: false,
          import: false,
        },
      },
    } as WorkerOptions);
    worker.onmessage = (
      e: MessageEvent<{ seq: number; error?: string; packet?: Uint8Array; key?: boolean }>,
    ) => {
      const p = this.#pending.get(e.data.seq);
      if (!p) return;
      this.#pending.delete(e.data.seq);
      if (e.data.error !== undefined) p.reject(new Error(`video encoder: ${e.data.error}`));
      else p.resolve(e.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.restarts++;
      this.#died(`the video transcoding Worker died (${e.message}); it was restarted`);
    };
    this.#worker = worker;
    return worker;
  }

  #request(
    worker: Worker,
    message: Record<string, unknown>,
  ): Promise<{ packet?: Uint8Array; key?: boolean }> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      worker.postMessage({ ...message, seq });
    });
  }

  #died(reason: string): void {
    this.#worker?.terminate();
    this.#worker = null;
    for (const p of this.#pending.values()) p.reject(new Error(reason));
    this.#pending.clear();
  }
}
