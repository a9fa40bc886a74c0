/**
 * RFC 9457 problem+json and plain JSON responses: the one error shape of
 * every HTTP endpoint (API, /connect, /metrics, federation, rate limits).
 * Depends on nothing of ours, so every folder may use it.
 *
 * @module
 */

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** Optional parts of a {@link problem}. */
export interface ProblemOptions {
  /** `title`; default the status's reason phrase (federation uses upstream's error names). */
  title?: string;
  /** Extension members added to the body (e.g. `request_id`). */
  extra?: Record<string, unknown>;
  /** Extra response headers (`retry-after`, `allow`, `www-authenticate`, …). */
  headers?: HeadersInit;
}

/**
 * A problem+json response with `type`, `title`, `status` and (when given)
 * `detail`; `cache-control: no-store`. The detail is shown to clients: never
 * put secrets in it.
 */
export function problem(status: number, detail?: string, options: ProblemOptions = {}): Response {
  const body: Record<string, unknown> = {
    type: "about:blank",
    title: options.title ?? TITLES[status] ?? "Error",
    status,
    ...(detail === undefined ? {} : { detail }),
    ...options.extra,
  };
  const headers = new Headers(options.headers);
  headers.set("content-type", "application/problem+json");
  headers.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status, headers });
}

/**
 * A JSON response with `cache-control: no-store`. `raw` values are JSON texts
 * spliced in verbatim as extra members of an object body (certificates: their
 * u64 serial must not pass through a JS number).
 */
export function json(body: unknown, status = 200, raw: Record<string, string> = {}): Response {
  let text = JSON.stringify(body);
  const extra = Object.entries(raw).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",");
  if (extra !== "") text = text === "{}" ? `{${extra}}` : `${text.slice(0, -1)},${extra}}`;
  return new Response(text, {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
