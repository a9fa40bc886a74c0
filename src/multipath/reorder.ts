/**
 * The receiving side of a multipath session: units arrive on any path, in
 * any order, possibly twice (duplicate mode, retransmissions, FEC and a
 * DATA copy of the same unit); they leave in sequence order, each once.
 * Memory is bounded: a unit too far ahead of the next expected one, or over
 * the byte bound, is dropped (the sender retransmits it after its timeout).
 *
 * @module
 */

/** What {@link ReorderBuffer.accept} did with a unit. */
export type Accepted = "delivered" | "held" | "duplicate" | "dropped";

/** Bounds of a reorder buffer. */
export interface ReorderLimits {
  /** Units accepted ahead of the next expected one. */
  window: number;
  /** Bytes held ahead of the next expected one. */
  maxBytes: number;
}

/** Sequence-ordered, duplicate-free delivery of units. */
export class ReorderBuffer {
  readonly #limits: ReorderLimits;
  readonly #deliver: (ciphertext: Uint8Array) => void;
  #delivered = 0;
  #held = new Map<number, Uint8Array>();
  #heldBytes = 0;
  /** Counters (path status and tests). */
  duplicates = 0;
  dropped = 0;

  constructor(limits: ReorderLimits, deliver: (ciphertext: Uint8Array) => void) {
    this.#limits = limits;
    this.#deliver = deliver;
  }

  /** Highest sequence delivered in order (what an ACK reports). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Bytes held waiting for an earlier unit. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Units held waiting for an earlier unit. */
  get heldUnits(): number {
    return this.#held.size;
  }

  /** Takes unit `seq`; delivers it and every held unit it unblocks, in order. */
  accept(seq: number, ciphertext: Uint8Array): Accepted {
    if (seq <= this.#delivered || this.#held.has(seq)) {
      this.duplicates++;
      return "duplicate";
    }
    if (seq !== this.#delivered + 1) {
      if (
        seq - this.#delivered > this.#limits.window ||
        this.#heldBytes + ciphertext.length > this.#limits.maxBytes
      ) {
        this.dropped++;
        return "dropped";
      }
      // A view into a path's chunk must not change under us: keep a copy.
      this.#held.set(seq, ciphertext.slice());
      this.#heldBytes += ciphertext.length;
      return "held";
    }
    this.#delivered = seq;
    this.#deliver(ciphertext);
    for (let next = seq + 1;; next++) {
      const held = this.#held.get(next);
      if (held === undefined) break;
      this.#held.delete(next);
      this.#heldBytes -= held.length;
      this.#delivered = next;
      this.#deliver(held);
    }
    return "delivered";
  }

  /** Forgets what is held (the session ended). */
  clear(): void {
    this.#held.clear();
    this.#heldBytes = 0;
  }
}
