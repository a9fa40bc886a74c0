/**
 * A permission-scoped Worker behind sequence-numbered requests, answered in
 * order (used by the codec pools in src/media/transcode and by the FEC engine
 * in src/fec). A Worker that dies is replaced on the next request: what it
 * had in flight fails with a clear reason, and its `generation` moves on so a
 * pool knows each stream needs a new encoder (a crash costs one frame per
 * stream, not the call).
 *
 * @module
 */

/** What a codec Worker answers: `seq` plus an error or the reply's fields. */
type WorkerReply<Reply> = Reply & { seq: number; error?: string };

interface Pending<Reply> {
  resolve(value: Reply): void;
  reject(error: Error): void;
}

/** Options of {@link RestartingWorker}. */
export interface RestartingWorkerOptions {
  /** The Worker module. */
  url: URL;
  /** Its permissions: the narrowest the codec needs. */
  permissions: Deno.PermissionOptionsObject;
  /** Names the encoder in errors (`Opus encoder`, `RaptorQ`). */
  encoder: string;
  /** Names the Worker in errors (`the transcoding Worker`). */
  worker: string;
}

/** One codec Worker, restarted after a crash; see the module doc. */
export class RestartingWorker<Reply extends object> {
  readonly #options: RestartingWorkerOptions;
  readonly #pending = new Map<number, Pending<Reply>>();
  #worker: Worker | null = null;
  #seq = 0;
  #closed = false;
  /** Increases with every Worker started (0 = none yet). */
  generation = 0;
  /** Times the Worker was restarted after dying. */
  restarts = 0;

  constructor(options: RestartingWorkerOptions) {
    this.#options = options;
  }

  /** Starts the Worker when none runs; returns its generation. */
  ensure(): number {
    if (this.#closed) throw new Error(`${this.#options.worker} is shut down`);
    if (this.#worker) return this.generation;
    this.generation++;
    const worker = new Worker(this.#options.url, {
      type: "module",
      deno: { permissions: this.#options.permissions },
    } as WorkerOptions);
    worker.onmessage = (e: MessageEvent<WorkerReply<Reply>>) => {
      const p = this.#pending.get(e.data.seq);
      if (!p) return;
      this.#pending.delete(e.data.seq);
      if (e.data.error !== undefined) {
        p.reject(new Error(`${this.#options.encoder}: ${e.data.error}`));
      } else p.resolve(e.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.restarts++;
      this.#died(`${this.#options.worker} died (${e.message}); it was restarted`);
    };
    this.#worker = worker;
    return this.generation;
  }

  /**
   * Sends `message` to the running Worker (started if needed) and waits for
   * its answer; buffers in `transfer` move to the Worker (no copy, and the
   * sender can no longer use them).
   */
  request(message: Record<string, unknown>, transfer: Transferable[] = []): Promise<Reply> {
    this.ensure();
    const worker = this.#worker!;
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      worker.postMessage({ ...message, seq }, transfer);
    });
  }

  /** Requests waiting for an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Sends `message` without waiting, only to a running Worker (nothing to do otherwise). */
  post(message: Record<string, unknown>): void {
    this.#worker?.postMessage({ ...message, seq: ++this.#seq });
  }

  /** Terminates the Worker as a crash would: in-flight requests fail, the next one restarts it. */
  kill(): void {
    this.#died(`${this.#options.worker} was stopped`);
  }

  /** Stops the Worker for good. */
  shutdown(): void {
    this.#closed = true;
    this.#died("the server is stopping");
  }

  #died(reason: string): void {
    this.#worker?.terminate();
    this.#worker = null;
    for (const p of this.#pending.values()) p.reject(new Error(reason));
    this.#pending.clear();
  }
}
