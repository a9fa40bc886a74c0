/**
 * Positive reachability decisions ("this sender's user may reach that
 * device"), kept briefly so a route not bound to a group can be checked on
 * every frame without a store read. Only "yes" is kept: a "no" is asked
 * again, so a new friendship counts at once; a friendship ending clears the
 * cache ({@link ReachCache.clear}, on every instance through the bus), and
 * entries expire anyway in case that notice is lost.
 *
 * @module
 */

/** Bounded, expiring set of (sender user, target device) pairs known reachable. */
export class ReachCache {
  readonly #expiry = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#max = Math.max(1, options.max ?? 65_536);
    this.#now = options.now ?? Date.now;
  }

  /** True when `userId` is known, recently, to reach `device`. */
  has(userId: string, device: string): boolean {
    const key = keyOf(userId, device);
    const until = this.#expiry.get(key);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#expiry.delete(key);
    return false;
  }

  /** Records that `userId` reaches `device`. */
  add(userId: string, device: string): void {
    const key = keyOf(userId, device);
    this.#expiry.delete(key);
    this.#expiry.set(key, this.#now() + this.#ttlMs);
    // Map keeps insertion order: the first key is the oldest entry.
    if (this.#expiry.size > this.#max) this.#expiry.delete(this.#expiry.keys().next().value!);
  }

  /** Forgets everything (a friendship ended somewhere). */
  clear(): void {
    this.#expiry.clear();
  }
}

function keyOf(userId: string, device: string): string {
  return `${userId}\u0000${device}`;
}
