/**
 * The server's three rate-limit scopes (reference §15.1): `http` (every
 * request but `/connect`), `connect` (`/connect`) and `pairing` (an extra
 * check on `POST /api/pair/claim`, upstream's `pairing_claim`).
 *
 * @module
 */
import {
  type RateDecision,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimiterStats,
  type RateLimitRule,
} from "./limiter.ts";

/** A rate-limit scope. */
export type RateLimitScope = "http" | "connect" | "pairing";

/** Every scope, in a fixed order. */
export const RATE_LIMIT_SCOPES: readonly RateLimitScope[] = ["http", "connect", "pairing"];

/** The rule of each scope. */
export type RateLimitRules = Readonly<Record<RateLimitScope, RateLimitRule>>;

/** The flat shape of `config.security.rateLimit` (structural: no dependency on config). */
export interface FlatRateLimitSettings {
  readonly httpBurst: number;
  readonly httpWindowMs: number;
  readonly httpPenaltyMs: number;
  readonly connectBurst: number;
  readonly connectWindowMs: number;
  readonly connectPenaltyMs: number;
  readonly pairingBurst: number;
  readonly pairingWindowMs: number;
  readonly pairingPenaltyMs: number;
}

/** Rules of the three scopes from `config.security.rateLimit`. */
export function rateLimitRules(flat: FlatRateLimitSettings): RateLimitRules {
  return {
    http: { burst: flat.httpBurst, windowMs: flat.httpWindowMs, penaltyMs: flat.httpPenaltyMs },
    connect: {
      burst: flat.connectBurst,
      windowMs: flat.connectWindowMs,
      penaltyMs: flat.connectPenaltyMs,
    },
    pairing: {
      burst: flat.pairingBurst,
      windowMs: flat.pairingWindowMs,
      penaltyMs: flat.pairingPenaltyMs,
    },
  };
}

/** Options of {@linkcode RateLimits}: per-limiter options plus a denial hook. */
export interface RateLimitsOptions extends RateLimiterOptions {
  /** Called on every denial (metrics: http/pairing → `rateLimitHttp`, connect → `rateLimitConnect`). */
  readonly onDenied?: (scope: RateLimitScope, retryAfterMs: number) => void;
}

/**
 * One {@linkcode RateLimiter} per scope; each has its own key cap.
 *
 * @example
 * ```ts
 * const limits = new RateLimits(rateLimitRules(config.security.rateLimit));
 * const decision = limits.check("http", rateLimitKey(ip));
 * if (!decision.allowed) return tooManyRequests(decision.retryAfterMs);
 * ```
 */
export class RateLimits {
  readonly http: RateLimiter;
  readonly connect: RateLimiter;
  readonly pairing: RateLimiter;
  readonly #onDenied?: (scope: RateLimitScope, retryAfterMs: number) => void;

  constructor(rules: RateLimitRules, options: RateLimitsOptions = {}) {
    const { onDenied, ...limiterOptions } = options;
    this.http = new RateLimiter(rules.http, limiterOptions);
    this.connect = new RateLimiter(rules.connect, limiterOptions);
    this.pairing = new RateLimiter(rules.pairing, limiterOptions);
    this.#onDenied = onDenied;
  }

  /** Counts one hit of `key` in `scope` and decides. */
  check(scope: RateLimitScope, key: string, now?: number): RateDecision {
    const decision = this[scope].check(key, now);
    if (!decision.allowed) this.#onDenied?.(scope, decision.retryAfterMs);
    return decision;
  }

  /** Forgets idle keys in every scope; returns how many. */
  sweep(now?: number): number {
    return RATE_LIMIT_SCOPES.reduce((n, scope) => n + this[scope].sweep(now), 0);
  }

  /** Counters of every scope. */
  stats(): Record<RateLimitScope, RateLimiterStats> {
    return {
      http: this.http.stats(),
      connect: this.connect.stats(),
      pairing: this.pairing.stats(),
    };
  }
}
