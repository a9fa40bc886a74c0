/**
 * `/connect` (and its alias) straight to its handler, in front of the Hono
 * app: every new session paid the app's routing and middleware composition
 * and three parses of its URL (one here) for what comes down, on these paths,
 * to three steps, which run here in the app's order and with its answers: 503 while
 * stopping, the `connect` rate limit (429), the handler, and a thrown error
 * answered as the app's `onError` does. Per-IP connection caps and the
 * handshake gate sit in the listener and the handler, untouched.
 *
 * @module
 */
import { problem } from "../http/mod.ts";
import type { Logger } from "../log/mod.ts";
import { limitRequest, type RateLimits, type TrustedProxies } from "../security/ratelimit/mod.ts";
import { type ConnectHandlerOptions, handleConnect } from "./connect.ts";
import { requestFailed } from "./log.ts";

/** What the route needs from the server. */
export interface ConnectRouteParts {
  state: { readonly stopping: boolean };
  connect: ConnectHandlerOptions;
  limits: RateLimits;
  trusted: TrustedProxies;
  log: Logger;
}

/**
 * The text between the first `/` after the authority and the query or
 * fragment: for a serialized URL, its raw (percent-encoded) `pathname`.
 * `request.url` of a served request is the request target appended to the
 * host, not necessarily serialized (`/./connect`), so this only preselects;
 * the URL parser has the last word.
 */
export function rawPathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query >= 0) end = query;
  const fragment = url.indexOf("#", start);
  if (fragment >= 0 && fragment < end) end = fragment;
  return url.slice(start, end);
}

/**
 * A handler for the requests to `paths`, or null for every other request
 * (which goes to the app).
 */
export function connectRoute(
  parts: ConnectRouteParts,
  paths: ReadonlySet<string>,
): (request: Request, info: Deno.ServeHandlerInfo) => Response | null {
  return (request, info) => {
    if (!paths.has(rawPathOf(request.url))) return null;
    const url = new URL(request.url);
    const pathname = url.pathname;
    // What the app would route elsewhere (or to /connect by another spelling) goes to the app.
    if (!paths.has(pathname)) return null;
    try {
      if (parts.state.stopping) return problem(503, "server is shutting down");
      const refused = limitRequest(parts.limits, parts.trusted, request, info, pathname, true);
      if (refused) return refused;
      return handleConnect(request, parts.connect, url);
    } catch (error) {
      return requestFailed(error, request, parts.log);
    }
  };
}
