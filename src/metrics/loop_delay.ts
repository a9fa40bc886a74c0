/**
 * The event loop's delay, sampled: a timer due every `intervalMs` records how
 * late it ran. Timers fall due at instants unrelated to the traffic, so the
 * distribution of their lateness is that of the wait of work arriving at a
 * random instant while the loop is busy (a GC pause, a long turn, other
 * timers) — the part of a delivery's latency spent before the server even
 * reads it, which `commucat_route_delay_seconds` (read → write) cannot see.
 * Node's `monitorEventLoopDelay` does the same with a libuv timer.
 *
 * @module
 */

/** Where the lateness goes (a histogram in seconds). */
export interface DelaySink {
  observe(seconds: number): void;
}

/** Samples the event loop's delay while started. */
export class LoopDelayMonitor {
  readonly #sink: DelaySink;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = 0;

  /**
   * @param sink receives each sample's lateness, in seconds
   * @param intervalMs time between samples (each one a timer wake-up)
   * @param now the clock, ms (tests substitute one)
   */
  constructor(sink: DelaySink, intervalMs: number, now: () => number = () => performance.now()) {
    if (!(intervalMs > 0)) throw new RangeError("the sampling interval must be positive");
    this.#sink = sink;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** True while sampling. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts sampling (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer === undefined) this.#arm();
  }

  /** Stops sampling. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One sample: how late this wake-up is against its due time; then the next. */
  sample(): void {
    this.#sink.observe(Math.max(0, this.#now() - this.#due) / 1000);
  }

  #arm(): void {
    // A chain of timeouts, each due `intervalMs` after the last one ran (setInterval would
    // catch up after a stall and record its catch-up runs as late too).
    this.#due = this.#now() + this.#intervalMs;
    this.#timer = setTimeout(this.#fire, this.#intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  #fire = (): void => {
    this.sample();
    this.#arm();
  };
}
