/**
 * Abuse limits in front of the server: per-client sliding-log rate limits for
 * the `http`, `connect` and `pairing` scopes (reference §15.1), a cap on
 * handshakes in flight, their problem+json refusals, and (re-exported from
 * `../client_ip.ts`) the client IP and rate-limit key of a request.
 *
 * @example
 * ```ts
 * import { clientIp, rateLimitKey, rateLimitRules, RateLimits, tooManyRequests } from "./mod.ts";
 * const limits = new RateLimits(rateLimitRules(config.security.rateLimit));
 * Deno.serve((request, info) => {
 *   const key = rateLimitKey(clientIp(request, info, config.security.trustedProxies));
 *   const decision = limits.check("http", key);
 *   if (!decision.allowed) return tooManyRequests(decision.retryAfterMs);
 *   return new Response("ok");
 * });
 * ```
 *
 * @module
 */

export {
  checkRule,
  DEFAULT_MAX_KEYS,
  DEFAULT_SWEEP_EVERY,
  EVICTION_SCAN,
  type RateDecision,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimiterStats,
  type RateLimitRule,
} from "./limiter.ts";
export {
  type FlatRateLimitSettings,
  RATE_LIMIT_SCOPES,
  type RateLimitRules,
  rateLimitRules,
  RateLimits,
  type RateLimitScope,
  type RateLimitsOptions,
} from "./scopes.ts";
export { HandshakeGate, type HandshakeGateStats } from "./handshake_gate.ts";
export { retryAfterSeconds, tooManyHandshakes, tooManyRequests } from "./response.ts";
export {
  clientIp,
  clientKey,
  normalizeIp,
  type ParsedPeer,
  peerAddress,
  rateLimitKey,
  TrustedProxies,
  TrustedProxyError,
} from "../client_ip.ts";
export {
  limitRequest,
  PAIRING_CLAIM_PATHS,
  type RateLimitEnv,
  rateLimitMiddleware,
} from "./middleware.ts";
export {
  ConnectionCaps,
  type ConnectionCapsStats,
  type ConnectionRefusal,
  ConnectionTicket,
} from "./connection_caps.ts";
