/**
 * The upstream sliding-log rate limiter (reference §15.1), one instance per
 * scope, with bounded memory.
 *
 * Per key: hits older than the window are dropped; a key blocked until a
 * penalty end is denied with the remaining time; fewer hits than `burst` →
 * the hit is recorded and allowed; otherwise, with no penalty, denied with
 * `retryAfterMs = windowMs`, else blocked for `penaltyMs` and denied with
 * `retryAfterMs = penaltyMs`. Denied hits are not recorded.
 *
 * Memory policy (an attacker rotating source addresses must not grow memory
 * without bound):
 * - A key's log never holds more than `burst` timestamps and grows only as
 *   hits arrive (a huge configured burst costs nothing for quiet keys).
 * - A key is *idle* once its newest hit is a window old and any block has
 *   ended: forgetting it changes no future decision. Idle keys are removed by
 *   {@linkcode RateLimiter.sweep} and automatically every `sweepEvery` checks.
 * - At most `maxKeys` keys are tracked. Keys are kept in least-recently-checked
 *   order; admitting a new key at the cap first drops the idle keys among the
 *   `EVICTION_SCAN` least recent ones, and when none of those is idle, forgets
 *   the least recently checked key. This fails open for that one forgotten key
 *   (it starts afresh) rather than closed for every new client: a cap that
 *   refused unknown keys would let a flood of addresses lock everyone out. A
 *   client that keeps hitting stays at the recent end, so its block survives
 *   unless more than `maxKeys` other addresses arrive between two of its hits.
 *   Each admission costs O(`EVICTION_SCAN`) at worst.
 *
 * @module
 */

/** One scope's limits. */
export interface RateLimitRule {
  /** Hits allowed per window (≥ 1). */
  readonly burst: number;
  /** Sliding window, ms (> 0). */
  readonly windowMs: number;
  /** Block after exceeding the burst, ms; 0 = no block, retry after the window. */
  readonly penaltyMs: number;
}

/** Outcome of {@linkcode RateLimiter.check}. */
export type RateDecision = { readonly allowed: true } | {
  readonly allowed: false;
  /** How long the caller should wait, ms (> 0). */
  readonly retryAfterMs: number;
};

/** Memory bounds and the clock of a limiter. */
export interface RateLimiterOptions {
  /** Clock in ms; default `performance.now` (monotonic). */
  readonly now?: () => number;
  /** Most keys tracked at once; default {@linkcode DEFAULT_MAX_KEYS}. */
  readonly maxKeys?: number;
  /** Sweep idle keys every this many checks; default {@linkcode DEFAULT_SWEEP_EVERY}. */
  readonly sweepEvery?: number;
}

/** Counters of one limiter. */
export interface RateLimiterStats {
  /** Keys tracked now. */
  readonly keys: number;
  readonly allowed: number;
  readonly denied: number;
  /** Idle keys removed (sweeps and admissions at the cap). */
  readonly swept: number;
  /** Non-idle keys forgotten to admit a new key at the cap. */
  readonly evicted: number;
}

/** Default cap on tracked keys per limiter (each costs ~250 B + 8 B per hit in its window). */
export const DEFAULT_MAX_KEYS = 65_536;
/** Default number of checks between automatic sweeps. */
export const DEFAULT_SWEEP_EVERY = 4_096;
/** Least recent keys examined for idleness when admitting a key at the cap. */
export const EVICTION_SCAN = 64;

const ALLOWED: RateDecision = Object.freeze({ allowed: true });

/** Timestamps of one key's recent hits: a ring buffer that grows up to `burst`. */
class HitLog {
  #buf: number[] = [0];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  newest(): number {
    return this.#buf[(this.#head + this.#size - 1) % this.#buf.length];
  }

  /** Drops hits at or before `cutoff` (they are oldest first). */
  dropUpTo(cutoff: number): void {
    const buf = this.#buf;
    while (this.#size > 0 && buf[this.#head] <= cutoff) {
      this.#head = (this.#head + 1) % buf.length;
      this.#size--;
    }
  }

  /** Appends `t`; the caller never pushes beyond `max` hits. */
  push(t: number, max: number): void {
    if (this.#size === this.#buf.length) {
      const grown = new Array<number>(Math.min(this.#buf.length * 2, max)).fill(0);
      for (let i = 0; i < this.#size; i++) {
        grown[i] = this.#buf[(this.#head + i) % this.#buf.length];
      }
      this.#buf = grown;
      this.#head = 0;
    }
    this.#buf[(this.#head + this.#size) % this.#buf.length] = t;
    this.#size++;
  }
}

interface Entry {
  readonly log: HitLog;
  /** End of the current block (−∞ when none). */
  blockedUntil: number;
  /** From this time on the entry is idle and may be forgotten. */
  idleAt: number;
}

function requireInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`rate limit: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

function requireMs(name: string, value: number, allowZero: boolean): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(
      `rate limit: ${name} must be a finite number ${allowZero ? "≥ 0" : "> 0"}, got ${value}`,
    );
  }
}

/** Validates a rule; throws `RangeError` naming the bad field. */
export function checkRule(rule: RateLimitRule): void {
  requireInt("burst", rule.burst, 1);
  requireMs("windowMs", rule.windowMs, false);
  requireMs("penaltyMs", rule.penaltyMs, true);
}

/**
 * Sliding-log rate limiter keyed by strings (see the module doc for the
 * algorithm and the memory policy).
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ burst: 2, windowMs: 1000, penaltyMs: 5000 });
 * const decision = limiter.check("203.0.113.7");
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`);
 * ```
 */
export class RateLimiter {
  readonly rule: RateLimitRule;
  readonly maxKeys: number;
  readonly sweepEvery: number;
  readonly #now: () => number;
  // Insertion order = least recently checked first (a key is re-inserted on every check).
  readonly #entries = new Map<string, Entry>();
  #checks = 0;
  #allowed = 0;
  #denied = 0;
  #swept = 0;
  #evicted = 0;

  constructor(rule: RateLimitRule, options: RateLimiterOptions = {}) {
    checkRule(rule);
    this.rule = { burst: rule.burst, windowMs: rule.windowMs, penaltyMs: rule.penaltyMs };
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.sweepEvery = options.sweepEvery ?? DEFAULT_SWEEP_EVERY;
    requireInt("maxKeys", this.maxKeys, 1);
    requireInt("sweepEvery", this.sweepEvery, 1);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Number of keys tracked now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Counts one hit of `key` at `now` (default: the clock) and decides. */
  check(key: string, now: number = this.#now()): RateDecision {
    if (!Number.isFinite(now)) throw new RangeError(`rate limit: now must be finite, got ${now}`);
    if (++this.#checks % this.sweepEvery === 0) this.sweep(now);
    const { burst, windowMs, penaltyMs } = this.rule;
    let entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
    } else {
      if (this.#entries.size >= this.maxKeys) this.#makeRoom(now);
      entry = { log: new HitLog(), blockedUntil: -Infinity, idleAt: -Infinity };
    }
    this.#entries.set(key, entry);

    entry.log.dropUpTo(now - windowMs);
    if (entry.blockedUntil > now) return this.#deny(entry.blockedUntil - now);
    if (entry.log.size < burst) {
      entry.log.push(now, burst);
      entry.idleAt = Math.max(now + windowMs, entry.blockedUntil);
      this.#allowed++;
      return ALLOWED;
    }
    if (penaltyMs === 0) return this.#deny(windowMs);
    entry.blockedUntil = now + penaltyMs;
    entry.idleAt = Math.max(entry.log.newest() + windowMs, entry.blockedUntil);
    return this.#deny(penaltyMs);
  }

  /** Forgets every idle key at `now`; returns how many. */
  sweep(now: number = this.#now()): number {
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.idleAt <= now) {
        this.#entries.delete(key);
        removed++;
      }
    }
    this.#swept += removed;
    return removed;
  }

  /** Counters since construction. */
  stats(): RateLimiterStats {
    return {
      keys: this.#entries.size,
      allowed: this.#allowed,
      denied: this.#denied,
      swept: this.#swept,
      evicted: this.#evicted,
    };
  }

  #deny(retryAfterMs: number): RateDecision {
    this.#denied++;
    return { allowed: false, retryAfterMs };
  }

  /** Frees at least one slot: idle keys among the least recent first, else the least recent. */
  #makeRoom(now: number): void {
    let scanned = 0;
    let removed = 0;
    let oldest: string | undefined;
    for (const [key, entry] of this.#entries) {
      oldest ??= key;
      if (entry.idleAt <= now) {
        this.#entries.delete(key);
        removed++;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    this.#swept += removed;
    if (removed === 0 && oldest !== undefined) {
      this.#entries.delete(oldest);
      this.#evicted++;
    }
  }
}
