/**
 * The sending side's memory of a multipath session: every unit sent stays
 * here until the peer's cumulative ACK covers it, and is sent again (as
 * DATA on every live path) when no ACK came within the retransmission
 * timeout. The timeout follows the measured round trip and its variation
 * (Karn: only units sent once are measured) and backs off while nothing is
 * acknowledged.
 *
 * @module
 */

/** One unit not acknowledged yet. */
export interface Outstanding {
  readonly seq: number;
  readonly ciphertext: Uint8Array;
  sentAt: number;
  tries: number;
  /**
   * Waiting for the FEC encoder, not on any path yet: no timeout runs for
   * it (a cold encoder's start-up is not a lost unit) until {@link
   * RetransmitQueue.sent} says it left.
   */
  held: boolean;
}

/** Timing bounds of retransmission. */
export interface RetransmitTiming {
  /** Smallest timeout, ms. */
  minRtoMs: number;
  /** Largest timeout, ms (also the cap of the back-off). */
  maxRtoMs: number;
}

/** Units sent and not yet acknowledged, in sequence order. */
export class RetransmitQueue {
  readonly #timing: RetransmitTiming;
  #units = new Map<number, Outstanding>();
  #bytes = 0;
  #acked = 0;
  #last = 0;
  #srtt = 0;
  /** Mean deviation of the round trip (RFC 6298 RTTVAR), ms. */
  #rttvar = 0;
  #backoff = 1;
  /** Units sent again (status, tests). */
  retransmitted = 0;

  constructor(timing: RetransmitTiming) {
    this.#timing = timing;
  }

  /** The next sequence number to use (the last one handed out + 1). */
  next(ciphertext: Uint8Array, now: number): Outstanding {
    const unit: Outstanding = {
      seq: ++this.#last,
      ciphertext,
      sentAt: now,
      tries: 0,
      held: false,
    };
    this.#units.set(unit.seq, unit);
    this.#bytes += ciphertext.length;
    return unit;
  }

  /** Highest sequence handed out. */
  get last(): number {
    return this.#last;
  }

  /** Highest sequence the peer acknowledged. */
  get acked(): number {
    return this.#acked;
  }

  /** Bytes not acknowledged yet. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Units not acknowledged yet. */
  get size(): number {
    return this.#units.size;
  }

  /** The current retransmission timeout, ms. */
  get rtoMs(): number {
    // Twice the round trip, or more where it varies (RFC 6298's srtt + 4·rttvar): on a busy
    // machine the round trip swings by hundreds of ms, and a timeout below the swing resends
    // on every path what was only late (27–30% of units in the multipath load phase).
    const base = this.#srtt === 0
      ? this.#timing.minRtoMs * 2
      : Math.max(this.#srtt * 2, this.#srtt + this.#rttvar * 4) + 50;
    const clamped = Math.min(Math.max(base, this.#timing.minRtoMs), this.#timing.maxRtoMs);
    return Math.min(clamped * this.#backoff, this.#timing.maxRtoMs);
  }

  /**
   * The peer has everything up to `cumulative`. Returns false when that is
   * more than was ever sent (a broken or lying peer); true otherwise.
   */
  ack(cumulative: number, now: number): boolean {
    if (cumulative > this.#last) return false;
    if (cumulative <= this.#acked) return true;
    let sample: number | null = null;
    for (let seq = this.#acked + 1; seq <= cumulative; seq++) {
      const unit = this.#units.get(seq);
      if (unit === undefined) continue;
      if (unit.tries === 0) sample = now - unit.sentAt;
      this.#units.delete(seq);
      this.#bytes -= unit.ciphertext.length;
    }
    this.#acked = cumulative;
    this.#backoff = 1;
    if (sample !== null) {
      if (this.#srtt === 0) {
        this.#srtt = sample;
        this.#rttvar = sample / 2;
      } else {
        this.#rttvar = this.#rttvar * 0.75 + Math.abs(this.#srtt - sample) * 0.25;
        this.#srtt = this.#srtt * 0.875 + sample * 0.125;
      }
    }
    return true;
  }

  /**
   * `units` (held for the encoder) left now: their timeout and round-trip
   * sample count from here.
   */
  sent(units: readonly Outstanding[], now: number): void {
    for (const unit of units) {
      unit.held = false;
      unit.sentAt = now;
    }
  }

  /**
   * When the oldest unit on a path times out (ms timestamp), or null when
   * nothing is outstanding there (units held for the encoder have no timeout).
   */
  dueAt(): number | null {
    for (const unit of this.#units.values()) if (!unit.held) return unit.sentAt + this.rtoMs;
    return null;
  }

  /**
   * The units whose timeout passed, oldest first, at most `limit` of them
   * (what the peer is missing first: its ACK is cumulative), or every
   * outstanding unit when `all` (a path was lost with what it carried).
   * They count as sent again now; a timeout backs the next one off. Units
   * held for the encoder are never taken: their packets are still to come.
   */
  takeDue(now: number, all = false, limit = Infinity): Outstanding[] {
    const rto = this.rtoMs;
    const due: Outstanding[] = [];
    for (const unit of this.#units.values()) {
      if (unit.held) continue;
      if (!all && (unit.sentAt + rto > now || due.length >= limit)) break;
      unit.sentAt = now;
      unit.tries++;
      due.push(unit);
    }
    if (due.length > 0 && !all) this.#backoff = Math.min(this.#backoff * 2, 64);
    this.retransmitted += due.length;
    return due;
  }

  /** Forgets everything (the session ended). */
  clear(): void {
    this.#units.clear();
    this.#bytes = 0;
  }
}
