/**
 * Remembers first handshake messages for a while so a recorded Hello cannot
 * be played again (its ephemeral key makes every honest Hello unique).
 *
 * @module
 */

/** Bounded, time-limited set of seen handshake messages. */
export class ReplayCache {
  #seen = new Map<string, number>();
  #ttlMs: number;
  #max: number;
  #now: () => number;

  constructor(ttlMs: number, max = 100_000, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
  }

  /** Records `key`; false when it was seen within the TTL (a replay). */
  remember(key: string): boolean {
    const now = this.#now();
    const seenAt = this.#seen.get(key);
    if (seenAt !== undefined && now - seenAt < this.#ttlMs) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now);
    // Map keeps insertion order: the oldest entries come first.
    for (const [k, t] of this.#seen) {
      if (this.#seen.size <= this.#max && now - t < this.#ttlMs) break;
      this.#seen.delete(k);
    }
    return true;
  }
}
