/**
 * The requests of one connection waiting for the server's Ack or Error, in
 * sequence order. Sequences only grow, so the waiters are parallel arrays
 * read from a head index: no Map whose hash table is rebuilt under one add
 * and one delete per message, no object or closure per request (a load
 * client sending thousands of messages a second kept those past its
 * scavenges: docs/PERFORMANCE.md, perf-p99 notes of round 8).
 *
 * @module
 */

/** What a request resolves with: the Ack's body plus the request's own sequence. */
export type RequestAck = Record<string, unknown> & { sequence: number };

/** Compact the arrays once this many settled slots lead them. */
const COMPACT_AT = 64;
/**
 * Slots kept (not freed) when every request is answered: a client with a
 * few requests in flight writes over the same slots instead of dropping the
 * arrays' storage and growing it again (three arrays of 17 slots, ~0.4 KiB,
 * per answered burst: the load client's largest garbage per message). A
 * burst larger than this frees its storage once answered.
 */
const KEEP_SLOTS = 256;

/** Waiting requests, in the order (and so the sequence order) they were sent. */
export class RequestWaiters {
  #sequences: number[] = [];
  #resolves: (((ack: RequestAck) => void) | null)[] = [];
  #rejects: (((error: Error) => void) | null)[] = [];
  /** The first slot still waiting (or settled out of order: resolves[i] null). */
  #head = 0;
  /** Slots in use: [#head, #tail) (the arrays may be longer: kept storage, all settled). */
  #tail = 0;
  #waiting = 0;

  /** Requests still waiting. */
  get size(): number {
    return this.#waiting;
  }

  /** Waits for `sequence`'s answer; `sequence` is above every one added before. */
  add(
    sequence: number,
    resolve: (ack: RequestAck) => void,
    reject: (error: Error) => void,
  ): void {
    const tail = this.#tail;
    if (tail > this.#head && this.#sequences[tail - 1] >= sequence) {
      throw new Error("request sequences must grow");
    }
    if (tail < this.#sequences.length) {
      this.#sequences[tail] = sequence;
      this.#resolves[tail] = resolve;
      this.#rejects[tail] = reject;
    } else {
      this.#sequences.push(sequence);
      this.#resolves.push(resolve);
      this.#rejects.push(reject);
    }
    this.#tail = tail + 1;
    this.#waiting++;
  }

  /** Resolves `sequence`'s request with `{...body, sequence}`; false when none waits. */
  resolve(sequence: number, body: Record<string, unknown>): boolean {
    const i = this.#find(sequence);
    if (i < 0) return false;
    const resolve = this.#resolves[i]!;
    this.#settle(i);
    resolve({ ...body, sequence });
    return true;
  }

  /** Rejects `sequence`'s request with `error`; false when none waits. */
  reject(sequence: number, error: Error): boolean {
    const i = this.#find(sequence);
    if (i < 0) return false;
    const reject = this.#rejects[i]!;
    this.#settle(i);
    reject(error);
    return true;
  }

  /** A cumulative Ack: resolves every waiting request up to `upTo`, in order. */
  resolveUpTo(upTo: number, body: Record<string, unknown>): void {
    while (this.#head < this.#tail && this.#sequences[this.#head] <= upTo) {
      const i = this.#head;
      const resolve = this.#resolves[i]!;
      const sequence = this.#sequences[i];
      this.#settle(i); // moves the head on (and may compact: i is stale after it)
      resolve({ ...body, sequence });
    }
  }

  /** Rejects every waiting request with `error` (the connection ended). */
  rejectAll(error: Error): void {
    const rejects = this.#rejects;
    const from = this.#head;
    const to = this.#tail;
    this.#sequences = [];
    this.#resolves = [];
    this.#rejects = [];
    this.#head = 0;
    this.#tail = 0;
    this.#waiting = 0;
    for (let i = from; i < to; i++) rejects[i]?.(error);
  }

  /** The slot of a waiting `sequence`, or -1. */
  #find(sequence: number): number {
    let lo = this.#head;
    let hi = this.#tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.#sequences[mid];
      if (at === sequence) return this.#resolves[mid] === null ? -1 : mid;
      if (at < sequence) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #settle(i: number): void {
    this.#resolves[i] = null;
    this.#rejects[i] = null;
    this.#waiting--;
    // The head moves past every settled slot it reaches.
    while (this.#head < this.#tail && this.#resolves[this.#head] === null) {
      this.#head++;
    }
    this.#compact();
  }

  #compact(): void {
    if (this.#head === this.#tail) {
      // All settled: start over in place (the slots are null already), keeping
      // the storage unless a large burst grew it.
      if (this.#sequences.length > KEEP_SLOTS) {
        this.#sequences.length = 0;
        this.#resolves.length = 0;
        this.#rejects.length = 0;
      }
      this.#head = 0;
      this.#tail = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#tail) {
      this.#sequences.splice(0, this.#head);
      this.#resolves.splice(0, this.#head);
      this.#rejects.splice(0, this.#head);
      this.#tail -= this.#head;
      this.#head = 0;
    }
  }
}
