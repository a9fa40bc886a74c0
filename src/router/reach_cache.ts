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

/**
 * Bounded, expiring set of (sender user, target device) pairs known reachable.
 * Two levels (user → device → expiry), not one Map keyed by the joined pair:
 * a joined key is a new string per lookup that the Map must flatten and hash
 * (~3× the lookup), on every routed frame.
 */
export class ReachCache {
  /** Users in the order of their latest {@link add}; each user's devices likewise. */
  readonly #expiry = new Map<string, Map<string, number>>();
  #size = 0;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#max = Math.max(1, options.max ?? 65_536);
    this.#now = options.now ?? Date.now;
  }

  /** Pairs held now (expired ones included until they are looked up or evicted). */
  get size(): number {
    return this.#size;
  }

  /** True when `userId` is known, recently, to reach `device`. */
  has(userId: string, device: string): boolean {
    const devices = this.#expiry.get(userId);
    if (devices === undefined) return false;
    const until = devices.get(device);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#forget(userId, devices, device);
    return false;
  }

  /** Records that `userId` reaches `device`. */
  add(userId: string, device: string): void {
    let devices = this.#expiry.get(userId);
    if (devices === undefined) devices = new Map();
    else this.#expiry.delete(userId); // re-set below: the user becomes the newest
    this.#expiry.set(userId, devices);
    if (devices.delete(device)) this.#size--;
    devices.set(device, this.#now() + this.#ttlMs);
    this.#size++;
    if (this.#size > this.#max) {
      // Maps keep insertion order: the oldest device of the user added to
      // longest ago goes (not strictly the oldest pair: a hit is only a store
      // read saved, and the bound is what matters).
      const [oldUser, oldDevices] = this.#expiry.entries().next().value!;
      this.#forget(oldUser, oldDevices, oldDevices.keys().next().value!);
    }
  }

  /** Forgets everything (a friendship ended somewhere). */
  clear(): void {
    this.#expiry.clear();
    this.#size = 0;
  }

  #forget(userId: string, devices: Map<string, number>, device: string): void {
    if (!devices.delete(device)) return;
    this.#size--;
    if (devices.size === 0) this.#expiry.delete(userId);
  }
}
