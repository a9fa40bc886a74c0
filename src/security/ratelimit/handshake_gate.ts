/**
 * A cap on handshakes in flight: unauthenticated `/connect` sessions cost CPU
 * (Noise, ZKP) and memory, so past `maxInFlight` new ones are refused at once,
 * never queued (a queue would only hold attackers' sockets open longer).
 *
 * @module
 */

/** Counters of a {@linkcode HandshakeGate}. */
export interface HandshakeGateStats {
  /** Handshakes in flight now. */
  readonly inFlight: number;
  /** Entries admitted since construction. */
  readonly admitted: number;
  /** Entries refused because the gate was full. */
  readonly denied: number;
}

/**
 * Counts handshakes in flight and refuses entries beyond the cap.
 *
 * @example
 * ```ts
 * const gate = new HandshakeGate(256);
 * const release = gate.tryEnter();
 * if (!release) return tooManyHandshakes();
 * connection.done.finally(release); // and call release() when the handshake ends
 *
 * // or by connection id, released from observer events:
 * if (!gate.enter(connectionId)) return tooManyHandshakes();
 * gate.leave(connectionId); // on handshake result and on close; idempotent
 * ```
 */
export class HandshakeGate {
  readonly maxInFlight: number;
  #inFlight = 0;
  #admitted = 0;
  #denied = 0;
  readonly #held = new Map<string, () => void>();

  constructor(maxInFlight: number) {
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(
        `handshake gate: maxInFlight must be an integer ≥ 1, got ${maxInFlight}`,
      );
    }
    this.maxInFlight = maxInFlight;
  }

  /** Handshakes in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Takes a slot: returns its release function, or null when the gate is full.
   * Releasing twice (handshake end, then connection close) frees the slot once.
   */
  tryEnter(): (() => void) | null {
    if (this.#inFlight >= this.maxInFlight) {
      this.#denied++;
      return null;
    }
    this.#inFlight++;
    this.#admitted++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#inFlight--;
    };
  }

  /**
   * Takes a slot held by `id` (a connection id), for callers that release by
   * id from events (handshake done, connection closed). False when full; an
   * id that already holds a slot keeps it.
   */
  enter(id: string): boolean {
    if (this.#held.has(id)) return true;
    const release = this.tryEnter();
    if (!release) return false;
    this.#held.set(id, release);
    return true;
  }

  /** Frees the slot held by `id`, if any (idempotent). */
  leave(id: string): void {
    const release = this.#held.get(id);
    if (!release) return;
    this.#held.delete(id);
    release();
  }

  /** Counters since construction. */
  stats(): HandshakeGateStats {
    return { inFlight: this.#inFlight, admitted: this.#admitted, denied: this.#denied };
  }
}
