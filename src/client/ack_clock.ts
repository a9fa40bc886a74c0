/**
 * The delivery-ack delay of every client in a process on one timer. Each
 * client that owes a delivery ack asks to be called back `delayMs` later;
 * the callbacks are due in the order they were asked for (one delay for
 * all), so they wait in a queue and one timer, armed for the queue's head,
 * calls every callback that is due when it fires. A timer per client cost a
 * timer object and its bookkeeping per delay, thousands a second in a load
 * client, and they outlived its scavenges (perf-p99 notes of round 8).
 *
 * @module
 */

/** Compact the queue once this many called or cancelled slots lead it. */
const COMPACT_AT = 64;

/** Calls callbacks `delayMs` after they were scheduled, on one timer. */
export class AckClock {
  readonly #delayMs: number;
  readonly #now: () => number;
  #due: number[] = [];
  #calls: ((() => void) | null)[] = [];
  #head = 0;
  #live = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The due time the timer is armed for (Infinity: none). */
  #armedFor = Infinity;

  constructor(delayMs: number, now: () => number = () => performance.now()) {
    this.#delayMs = delayMs;
    this.#now = now;
  }

  /** Callbacks waiting. */
  get pending(): number {
    return this.#live;
  }

  /** Calls `call` once, `delayMs` from now (unless cancelled first). */
  schedule(call: () => void): void {
    this.#due.push(this.#now() + this.#delayMs);
    this.#calls.push(call);
    this.#live++;
    if (this.#timer === undefined) this.#arm();
  }

  /** Forgets every scheduled call of `call`; the timer stops when nothing waits. */
  cancel(call: () => void): void {
    for (let i = this.#head; i < this.#calls.length; i++) {
      if (this.#calls[i] === call) {
        this.#calls[i] = null;
        this.#live--;
      }
    }
    if (this.#live === 0) this.#stop();
  }

  /** Arms the timer for the first live callback (called slots ahead of it are skipped). */
  #arm(): void {
    while (this.#head < this.#calls.length && this.#calls[this.#head] === null) this.#head++;
    this.#compact();
    if (this.#head === this.#calls.length) return this.#stop();
    const due = this.#due[this.#head];
    if (this.#timer !== undefined && this.#armedFor === due) return;
    clearTimeout(this.#timer);
    this.#armedFor = due;
    // Never early: a timer may fire up to a rounding before its delay.
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(due - this.#now())));
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#now();
    while (this.#head < this.#calls.length && this.#due[this.#head] <= now) {
      const call = this.#calls[this.#head];
      this.#calls[this.#head++] = null;
      if (call === null) continue;
      this.#live--;
      call();
    }
    this.#arm();
  };

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #compact(): void {
    if (this.#head === this.#calls.length) {
      this.#due.length = 0;
      this.#calls.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#calls.length) {
      this.#due.splice(0, this.#head);
      this.#calls.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
