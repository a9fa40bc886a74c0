/**
 * `GET /metrics` behind admin bearer auth (reference §7).
 *
 * The token check is a plain function so the configured static token can
 * later be swapped for hashed, rotating tokens kept in storage.
 *
 * @module
 */
import { blake3, constantTimeEqual, utf8 } from "../crypto/mod.ts";
import { problem } from "../http/mod.ts";
import { type Metrics, METRICS_CONTENT_TYPE } from "./metrics.ts";

/** Decides whether a presented admin token is valid. Must not leak timing. */
export type VerifyAdminToken = (token: string) => boolean | Promise<boolean>;

/**
 * A verifier for one configured token, or null when none is configured
 * (then `/metrics` refuses everyone and says how to enable it). Only a hash
 * of the token is kept; both sides are hashed to equal length first so the
 * comparison is constant-time regardless of what is presented.
 */
export function adminTokenVerifier(configured: string | undefined | null): VerifyAdminToken | null {
  if (configured === undefined || configured === null || configured === "") return null;
  const expected = blake3(utf8(configured));
  return (token) => constantTimeEqual(blake3(utf8(token)), expected);
}

/**
 * The bearer token of `request`: a leading `Bearer ` (any case) is stripped,
 * otherwise the whole header value is the token (upstream behaviour). Null
 * when the header is missing or empty.
 */
export function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header === null) return null;
  const token = header.replace(/^bearer(\s+|$)/i, "").trim();
  return token === "" ? null : token;
}

/** A 401 problem+json (same shape as the server's other errors). */
function unauthorized(detail: string): Response {
  return problem(401, detail, {
    headers: { "www-authenticate": 'Bearer realm="commucat-admin"' },
  });
}

/** Answers a `/metrics` request: 401 unless the admin token checks out, else the exposition. */
export async function serveMetrics(
  request: Request,
  metrics: Metrics,
  verifyAdminToken: VerifyAdminToken | null,
): Promise<Response> {
  if (verifyAdminToken === null) {
    return unauthorized(
      "metrics need an admin token: set admin.token (COMMUCAT_ADMIN_TOKEN) and send it as " +
        "'Authorization: Bearer <token>'",
    );
  }
  const token = bearerToken(request);
  if (token === null) return unauthorized("missing Authorization header");
  if (!(await verifyAdminToken(token))) return unauthorized("invalid admin token");
  if (request.method !== "GET" && request.method !== "HEAD") {
    return problem(405, "use GET or HEAD", { headers: { allow: "GET, HEAD" } });
  }
  const body = await metrics.renderMetrics();
  return new Response(request.method === "HEAD" ? null : body, {
    headers: { "content-type": METRICS_CONTENT_TYPE, "cache-control": "no-store" },
  });
}
