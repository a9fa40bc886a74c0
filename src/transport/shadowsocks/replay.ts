/**
 * A bounded salt replay filter: a connection whose salt was already seen is
 * a replay (an active prober resending a captured connection start) and gets
 * the same silence as a wrong key. Only salts whose first chunk authenticated
 * are remembered, so garbage cannot flush the filter; the oldest are
 * forgotten past the bound (a replay older than that many connections passes
 * this filter, and then only reaches the TLS handshake it cannot finish).
 *
 * @module
 */

/** Remembers the last `capacity` salts. */
export class SaltFilter {
  readonly #capacity: number;
  readonly #seen = new Set<string>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Salts remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  /** Records `salt`: false when it was seen before (a replay). */
  add(salt: Uint8Array): boolean {
    const id = Array.from(salt, (b) => b.toString(16).padStart(2, "0")).join("");
    if (this.#seen.has(id)) return false;
    this.#seen.add(id);
    if (this.#seen.size > this.#capacity) {
      // A Set iterates in insertion order: the first is the oldest.
      this.#seen.delete(this.#seen.values().next().value!);
    }
    return true;
  }
}
