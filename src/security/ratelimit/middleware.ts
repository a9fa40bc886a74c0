/**
 * The rate limits as one Hono middleware: every request counts against its
 * client's `connect` (`/connect`) or `http` (everything else) budget, and a
 * pairing claim additionally against `pairing`. The client is the socket
 * peer, or the address a trusted proxy reports (see `../client_ip.ts`).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { clientKey, type TrustedProxies } from "../client_ip.ts";
import { tooManyRequests } from "./response.ts";
import type { RateLimits } from "./scopes.ts";

/** What the middleware needs from the connection a request came on. */
export interface RateLimitEnv {
  Bindings: Deno.ServeHandlerInfo;
}

/** Paths whose requests also count against the `pairing` scope (upstream `pairing_claim`). */
export const PAIRING_CLAIM_PATHS: ReadonlySet<string> = new Set([
  "/api/pair/claim",
  "/api/pairing/claim",
]);

/**
 * Counts `request` (raw path `pathname`) against its client's budgets: the
 * 429 problem+json refusal (with `Retry-After`) once one is spent, else null.
 * What {@link rateLimitMiddleware} runs, and the `/connect` route in front of
 * the app (`server/connect_route.ts`) too.
 */
export function limitRequest(
  limits: RateLimits,
  trusted: TrustedProxies,
  request: Request,
  info: Deno.ServeHandlerInfo,
  pathname: string,
  connect: boolean,
): Response | null {
  const key = clientKey(request, info, trusted);
  const decision = limits.check(connect ? "connect" : "http", key);
  if (!decision.allowed) return tooManyRequests(decision.retryAfterMs);
  if (PAIRING_CLAIM_PATHS.has(pathname)) {
    const claim = limits.check("pairing", key);
    if (!claim.allowed) return tooManyRequests(claim.retryAfterMs);
  }
  return null;
}

/**
 * A middleware answering 429 problem+json (with `Retry-After`) once a
 * client's budget is spent. Paths are compared raw (percent-encoded), the way
 * the app routes them, so an encoded path cannot slip past a scope.
 */
export function rateLimitMiddleware(
  limits: RateLimits,
  trusted: TrustedProxies,
  /** Paths counted as `connect` (`/connect` and its alias, `transport.websocket_path`). */
  connectPaths: ReadonlySet<string> = new Set(["/connect"]),
): MiddlewareHandler<RateLimitEnv> {
  return async (c, next) => {
    const pathname = new URL(c.req.url).pathname;
    const refused = limitRequest(
      limits,
      trusted,
      c.req.raw,
      c.env,
      pathname,
      connectPaths.has(pathname),
    );
    if (refused) return refused;
    await next();
    return undefined;
  };
}
