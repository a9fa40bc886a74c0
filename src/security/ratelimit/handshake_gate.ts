/**
 * A cap on handshakes in flight: unauthenticated `/connect` sessions cost CPU
 * (Noise, ZKP) and memory, so past `maxInFlight` new ones are refused at once,
 * never queued (a queue would only hold attackers' sockets open longer).
 *
 * Post-quantum hybrid Hellos cost more (the server encapsulates to the
 * client's ML-KEM key and signs with ML-DSA before an XK client has proven
 * anything), so they also draw on a CPU budget: a token bucket of
 * milliseconds refilled at `hybridCpuShare` of one core. Admission needs a
 * positive balance and charges the reply's CPU cost (measured once at start,
 * not per reply: wall time under load would count queueing as work), so a
 * flood of hybrid Hellos gets at most that share of a core while classical
 * ones pass.
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
  /** Hybrid Hellos refused because the CPU budget was spent. */
  readonly hybridDenied: number;
}

/** Options of a {@linkcode HandshakeGate}. */
export interface HandshakeGateOptions {
  /**
   * Share of one core (0 < share ≤ 1) hybrid handshake replies may take on
   * average; default 1 (no cap below a whole core).
   */
  hybridCpuShare?: number;
  /** CPU milliseconds one hybrid Hello reply costs (charged on admission); default 1. */
  hybridCostMs?: number;
  /** Milliseconds of work the budget may bank when idle (the burst); default 1000 × share. */
  hybridBurstMs?: number;
  /** Monotonic clock in milliseconds (tests inject one). */
  now?: () => number;
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
  readonly #hybridShare: number;
  readonly #hybridBurstMs: number;
  readonly #hybridCostMs: number;
  readonly #now: () => number;
  /** Milliseconds of hybrid work available; may go negative after a costly reply. */
  #hybridBalance: number;
  #hybridRefilledAt: number;
  #hybridDenied = 0;

  constructor(maxInFlight: number, options: HandshakeGateOptions = {}) {
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(
        `handshake gate: maxInFlight must be an integer ≥ 1, got ${maxInFlight}`,
      );
    }
    const share = options.hybridCpuShare ?? 1;
    if (!(share > 0 && share <= 1)) {
      throw new RangeError(`handshake gate: hybridCpuShare must be in (0, 1], got ${share}`);
    }
    this.maxInFlight = maxInFlight;
    this.#hybridShare = share;
    this.#hybridBurstMs = options.hybridBurstMs ?? 1000 * share;
    this.#hybridCostMs = options.hybridCostMs ?? 1;
    this.#now = options.now ?? (() => performance.now());
    this.#hybridBalance = this.#hybridBurstMs;
    this.#hybridRefilledAt = this.#now();
  }

  /**
   * Whether a hybrid Hello may be served now: true when the CPU budget has
   * credit, which is then charged `costMs` (default: the configured
   * `hybridCostMs`); false (and nothing charged) when it is spent.
   */
  admitHybrid(costMs: number = this.#hybridCostMs): boolean {
    this.#refillHybrid();
    if (this.#hybridBalance <= 0) {
      this.#hybridDenied++;
      return false;
    }
    if (Number.isFinite(costMs) && costMs > 0) this.#hybridBalance -= costMs;
    return true;
  }

  #refillHybrid(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#hybridRefilledAt);
    this.#hybridRefilledAt = now;
    this.#hybridBalance = Math.min(
      this.#hybridBurstMs,
      this.#hybridBalance + elapsed * this.#hybridShare,
    );
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
    return {
      inFlight: this.#inFlight,
      admitted: this.#admitted,
      denied: this.#denied,
      hybridDenied: this.#hybridDenied,
    };
  }
}
