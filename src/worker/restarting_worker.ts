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
  /** When it was sent (ms, monotonic). */
  sentAt: number;
}

/** How long a request may wait by default before its Worker counts as hung. */
export const DEFAULT_ANSWER_TIMEOUT_MS = 30_000;
/** How long a new Worker may take by default to give its first answer (it loads its WASM). */
export const DEFAULT_START_TIMEOUT_MS = 120_000;

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
  /**
   * How long a request may go unanswered before the Worker counts as hung
   * (a module that never loads, a codec stuck in a loop): it is then
   * terminated as after a crash, so callers get an error instead of waiting
   * forever. Counted from the request's sending or the Worker's last answer,
   * whichever is later (answers come in order, so a request queued behind a
   * slow one is not blamed for its wait). Default
   * {@link DEFAULT_ANSWER_TIMEOUT_MS}.
   */
  answerTimeoutMs?: number;
  /**
   * The same limit for a new Worker's first answer, which waits for the module
   * and its WASM to load and compile: slow on a busy machine, once. Default
   * {@link DEFAULT_START_TIMEOUT_MS}; never below `answerTimeoutMs`.
   */
  startTimeoutMs?: number;
}

/** One codec Worker, restarted after a crash; see the module doc. */
export class RestartingWorker<Reply extends object> {
  readonly #options: RestartingWorkerOptions;
  readonly #pending = new Map<number, Pending<Reply>>();
  #worker: Worker | null = null;
  #seq = 0;
  #closed = false;
  #watchdog: ReturnType<typeof setInterval> | null = null;
  /** When the running Worker last answered (ms, monotonic); null: not yet (still starting). */
  #lastAnswerAt: number | null = null;
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
    this.#lastAnswerAt = null;
    const worker = new Worker(this.#options.url, {
      type: "module",
      deno: { permissions: this.#options.permissions },
    } as WorkerOptions);
    worker.onmessage = (e: MessageEvent<WorkerReply<Reply>>) => {
      this.#lastAnswerAt = performance.now();
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
      this.#pending.set(seq, { resolve, reject, sentAt: performance.now() });
      this.#watch();
      worker.postMessage({ ...message, seq }, transfer);
    });
  }

  /** Runs the hung-Worker check while requests are pending (one timer, not one per request). */
  #watch(): void {
    if (this.#watchdog !== null) return;
    const answerLimit = this.#options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    const startLimit = Math.max(
      answerLimit,
      this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    );
    const watchdog = setInterval(() => {
      // Answers come in order, so the first pending request is the oldest.
      const oldest = this.#pending.values().next().value;
      if (oldest === undefined) return this.#stopWatch();
      const starting = this.#lastAnswerAt === null;
      const limit = starting ? startLimit : answerLimit;
      if (performance.now() - Math.max(oldest.sentAt, this.#lastAnswerAt ?? 0) < limit) return;
      this.restarts++;
      this.#died(
        `${this.#options.worker} did not ${starting ? "start" : "answer"} within ${
          limit / 1000
        } s; it was restarted`,
      );
    }, Math.max(10, Math.min(1_000, answerLimit / 4)));
    Deno.unrefTimer(watchdog);
    this.#watchdog = watchdog;
  }

  #stopWatch(): void {
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    this.#watchdog = null;
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
    this.#stopWatch();
  }
}
