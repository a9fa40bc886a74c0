/**
 * Refusal responses of the rate limiter and the handshake gate, in the
 * shared RFC 9457 problem+json shape.
 *
 * @module
 */
import { problem } from "../../http/mod.ts";

/** `Retry-After` seconds for a wait of `retryAfterMs`: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  if (!Number.isFinite(retryAfterMs) || retryAfterMs <= 0) return 1;
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

function refusal(status: number, detail: string, retryAfter: number): Response {
  return problem(status, detail, { headers: { "retry-after": String(retryAfter) } });
}

/**
 * 429 Too Many Requests for a rate-limit denial: `retry-after` in whole
 * seconds rounded up (upstream rounded down, telling clients to come back
 * before the block ends), at least 1.
 */
export function tooManyRequests(retryAfterMs: number): Response {
  const seconds = retryAfterSeconds(retryAfterMs);
  return refusal(429, `rate limit exceeded; retry after ${seconds} s`, seconds);
}

/** 503 Service Unavailable for a `/connect` refused by a full {@linkcode HandshakeGate}. */
export function tooManyHandshakes(): Response {
  return refusal(503, "too many handshakes in flight; retry after 1 s", 1);
}
