/**
 * Opus encoding in a Worker ({@link ./opus_worker.ts}): requests by sequence
 * number, answered in order. A Worker that dies is replaced at once; what
 * it had in flight fails with a clear reason and each stream gets a new
 * encoder on its next frame (so a crash costs one frame per stream, not
 * the call).
 *
 * @module
 */

/** Parameters of one Opus stream (from the call's offer). */
export interface OpusStreamParams {
  sampleRate: 8000 | 12000 | 16000 | 24000 | 48000;
  channels: 1 | 2;
  bitrate: number;
  fec: boolean;
  dtx: boolean;
}

interface Pending {
  resolve(value: { packet?: Uint8Array; lookahead?: number }): void;
  reject(error: Error): void;
}

interface Stream {
  params: OpusStreamParams;
  /** The Worker generation the encoder lives in (0 = none yet). */
  generation: number;
  lookahead: number;
}

/**
 * The folder of the package's .wasm builds: the only thing the Worker may
 * read (the package loads its build from there with `fs.readFileSync`).
 */
export function opusWasmDir(): string {
  const entry = new URL(import.meta.resolve("@evan/opus"));
  return new URL("./wasm/", entry).pathname;
}

/**
 * Null when this process may start the Opus Worker, else a one-line reason:
 * the Worker's read access to {@link opusWasmDir} must be within ours.
 */
export function opusUnavailable(): string | null {
  const dir = opusWasmDir();
  const state = Deno.permissions.querySync({ name: "read", path: dir }).state;
  return state === "granted"
    ? null
    : `Opus transcoding needs read access to ${dir} (--allow-read=${dir})`;
}

/** One Opus Worker and the streams it encodes. */
export class OpusWorkerPool {
  #worker: Worker | null = null;
  #generation = 0;
  #seq = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, Stream>();
  /** Times the Worker was restarted after dying. */
  restarts = 0;
  #closed = false;

  /** Streams open now. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Opens a stream; its encoder is created in the Worker on the first frame. */
  open(params: OpusStreamParams): number {
    const id = this.#nextId++;
    this.#streams.set(id, { params, generation: 0, lookahead: 0 });
    return id;
  }

  /** The encoder's lookahead in samples (the Ogg pre-skip), once a frame was encoded. */
  lookahead(id: number): number {
    return this.#streams.get(id)?.lookahead ?? 0;
  }

  /** Encodes one 20 ms frame of little-endian 16-bit PCM; resolves with the Opus packet. */
  async encode(id: number, pcm: Uint8Array): Promise<Uint8Array> {
    const stream = this.#streams.get(id);
    if (!stream) throw new Error("the Opus stream is closed");
    const worker = this.#ensureWorker();
    if (stream.generation !== this.#generation) {
      stream.generation = this.#generation;
      const opened = this.#request(worker, { op: "open", id, ...stream.params });
      opened.then((r) => (stream.lookahead = r.lookahead ?? 0), () => {});
    }
    // A copy: the caller's buffer is a view into a frame that lives on.
    const reply = await this.#request(worker, { op: "encode", id, pcm: pcm.slice() });
    return reply.packet!;
  }

  /** Closes a stream. */
  close(id: number): void {
    if (!this.#streams.delete(id)) return;
    if (this.#worker) this.#worker.postMessage({ op: "close", id, seq: ++this.#seq });
  }

  /** Terminates the Worker as a crash would: in-flight frames fail, the next frame restarts it. */
  kill(): void {
    this.#died("the transcoding Worker was stopped");
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
    const worker = new Worker(new URL("./opus_worker.ts", import.meta.url), {
      type: "module",
      // Reads only the .wasm builds; no net, write, run, FFI or system
      // access; env only for the build switch.
      deno: {
        permissions: {
          env: ["OPUS_FORCE_WASM"],
          read: [opusWasmDir()],
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
      e: MessageEvent<{ seq: number; error?: string; packet?: Uint8Array; lookahead?: number }>,
    ) => {
      const p = this.#pending.get(e.data.seq);
      if (!p) return;
      this.#pending.delete(e.data.seq);
      if (e.data.error !== undefined) p.reject(new Error(`Opus encoder: ${e.data.error}`));
      else p.resolve(e.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.restarts++;
      this.#died(`the transcoding Worker died (${e.message}); it was restarted`);
    };
    this.#worker = worker;
    return worker;
  }

  #request(
    worker: Worker,
    message: Record<string, unknown>,
  ): Promise<{ packet?: Uint8Array; lookahead?: number }> {
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
