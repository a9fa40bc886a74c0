/**
 * Honest per-path quality: round trips of echo probes the server itself sent
 * on one path and saw answered on that path. Nothing is estimated from tiers
 * or assumed: without an answered or expired probe there is no number.
 *
 * - RTT: mean of the answered probes in the window.
 * - Jitter: mean absolute difference of consecutive RTT samples (the
 *   RFC 3550 interarrival-jitter idea, unsmoothed).
 * - Loss: probes not answered within the timeout / probes settled.
 *
 * @module
 */

/** What one path measured, over its last `samples` settled probes. */
export interface PathQualitySnapshot {
  rttMs: number | null;
  jitterMs: number | null;
  /** 0..1. */
  lossRatio: number;
  /** Settled probes (answered or expired) the figures come from. */
  samples: number;
}

/** Options of {@link PathQualityMeter}. */
export interface PathQualityOptions {
  /** Settled probes kept (default 32). */
  window?: number;
  /** A probe unanswered this long counts as lost (default 2000 ms). */
  timeoutMs?: number;
}

/** The probes of one path; see the module doc. */
export class PathQualityMeter {
  readonly #window: number;
  readonly #timeoutMs: number;
  /** nonce → sent at (ms), in sending order. */
  readonly #pending = new Map<number, number>();
  /** Settled probes, oldest first: an RTT in ms, or null for a lost probe. */
  #settled: (number | null)[] = [];

  constructor(options: PathQualityOptions = {}) {
    this.#window = options.window ?? 32;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Records a probe sent at `now`. */
  sent(nonce: number, now: number): void {
    this.expire(now);
    this.#pending.set(nonce, now);
    // A path that never answers cannot grow this without bound.
    while (this.#pending.size > this.#window) {
      this.#pending.delete(this.#pending.keys().next().value!);
      this.#settle(null);
    }
  }

  /** Records an answer; false for an unknown nonce (forged, or too late). */
  answered(nonce: number, now: number): boolean {
    const sentAt = this.#pending.get(nonce);
    if (sentAt === undefined) return false;
    this.#pending.delete(nonce);
    if (now - sentAt > this.#timeoutMs) {
      this.#settle(null);
      return false;
    }
    this.#settle(Math.max(0, now - sentAt));
    return true;
  }

  /** Counts probe `nonce` as lost now (its sender gave up waiting); false if unknown. */
  lost(nonce: number): boolean {
    if (!this.#pending.delete(nonce)) return false;
    this.#settle(null);
    return true;
  }

  /** Counts probes past their timeout as lost. */
  expire(now: number): void {
    for (const [nonce, sentAt] of this.#pending) {
      if (now - sentAt <= this.#timeoutMs) break;
      this.#pending.delete(nonce);
      this.#settle(null);
    }
  }

  /** The figures now; null when no probe has settled yet. */
  snapshot(now: number): PathQualitySnapshot | null {
    this.expire(now);
    if (this.#settled.length === 0) return null;
    const rtts = this.#settled.filter((r): r is number => r !== null);
    const lost = this.#settled.length - rtts.length;
    let jitter: number | null = null;
    if (rtts.length >= 2) {
      let sum = 0;
      for (let i = 1; i < rtts.length; i++) sum += Math.abs(rtts[i] - rtts[i - 1]);
      jitter = sum / (rtts.length - 1);
    }
    return {
      rttMs: rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null,
      jitterMs: jitter,
      lossRatio: lost / this.#settled.length,
      samples: this.#settled.length,
    };
  }

  #settle(rtt: number | null): void {
    this.#settled.push(rtt);
    if (this.#settled.length > this.#window) this.#settled = this.#settled.slice(-this.#window);
  }
}

/** Upstream's quality labels (§11.3). */
export type QualityLabel = "excellent" | "good" | "fair" | "poor" | "critical";

/**
 * Upstream's 0–100 quality score from measured figures (§11.3), without its
 * bandwidth penalty (we do not measure bandwidth): 100 − RTT penalty (0/5/10/
 * 20/30 at ≤30/≤60/≤100/≤200/>200 ms) − jitter penalty (0/5/15/25 at <10/<30/
 * <60/≥60 ms) − ⌊loss × 35⌋. An unanswered path (no RTT) scores 0.
 */
export function qualityScore(q: PathQualitySnapshot): { score: number; label: QualityLabel } {
  if (q.rttMs === null) return { score: 0, label: "critical" };
  const rtt = q.rttMs <= 30
    ? 0
    : q.rttMs <= 60
    ? 5
    : q.rttMs <= 100
    ? 10
    : q.rttMs <= 200
    ? 20
    : 30;
  const j = q.jitterMs ?? 0;
  const jitter = j < 10 ? 0 : j < 30 ? 5 : j < 60 ? 15 : 25;
  const score = Math.max(0, 100 - rtt - jitter - Math.floor(q.lossRatio * 35));
  const label = score >= 90
    ? "excellent"
    : score >= 75
    ? "good"
    : score >= 50
    ? "fair"
    : score >= 25
    ? "poor"
    : "critical";
  return { score, label };
}
