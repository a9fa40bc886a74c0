/**
 * The REST API as one Hono app over web-standard Request/Response. The
 * server mounts it for every path it does not serve itself (`/connect`,
 * `/healthz`, `/readyz`, `/metrics`).
 *
 * Every error is problem+json: handlers throw {@link ApiError}; an unknown
 * path is 404 and a known path with another method 405 (with `Allow`);
 * storage outages are 503; anything else is a logged 500 with no detail.
 *
 * @module
 */
import { Hono } from "hono";
import { StoreUnavailableError } from "../storage/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { listDevices, revokeDevice } from "./devices.ts";
import { getPqKeys, putPqKeys } from "./pq_keys.ts";
import { listE2eDevices, takeKeyPackage, uploadKeyPackages } from "./key_packages.ts";
import { sendWelcome } from "./welcome.ts";
import { answerFriendRequest, listFriendRequests, sendFriendRequest } from "./friend_requests.ts";
import { deleteFriend, getFriendDevices, getFriends, putFriends } from "./friends.ts";
import { ApiError, json, problem } from "./http.ts";
import { type ServedRoute, serveOpenApi } from "./openapi.ts";
import { p2pAssist } from "./p2p.ts";
import { claimPairing, issuePairing } from "./pairing.ts";
import { rotateDeviceKey } from "./rotation.ts";
import { securityStats, serverInfo } from "./server_info.ts";
import { serveUpload, uploadAvatar } from "./uploads.ts";

type Handler = (deps: ApiDeps, request: Request) => Response | Promise<Response>;
type Methods = Partial<Record<"GET" | "POST" | "PUT" | "DELETE", Handler>>;

/**
 * Path patterns (Hono syntax) and their handlers; earlier patterns win. The
 * OpenAPI document is built from this table (each operation documented in
 * ./openapi_operations.ts).
 */
const ROUTES: [string, Methods][] = [
  ["/openapi.json", { GET: (deps, request) => serveOpenApi(deps, SERVED, request) }],
  ["/api/server-info", { GET: (deps) => json(serverInfo(deps)) }],
  ["/api/security-stats", { GET: securityStats }],
  ["/api/pair", { POST: issuePairing }],
  ["/api/pairing", { POST: issuePairing }],
  ["/api/pair/claim", { POST: claimPairing }],
  ["/api/pairing/claim", { POST: claimPairing }],
  ["/api/friends", { GET: getFriends, PUT: putFriends }],
  ["/api/friends/requests", { GET: listFriendRequests }],
  ["/api/friends/requests/:id", { POST: sendFriendRequest }],
  [
    "/api/friends/requests/:id/accept",
    { POST: (deps, request) => answerFriendRequest(deps, request, "accepted") },
  ],
  [
    "/api/friends/requests/:id/reject",
    { POST: (deps, request) => answerFriendRequest(deps, request, "rejected") },
  ],
  ["/api/friends/:id/devices", { GET: getFriendDevices }],
  ["/api/friends/:id", { DELETE: deleteFriend }],
  ["/api/users/me/avatar", { POST: uploadAvatar }],
  ["/uploads/:filename", { GET: serveUpload }],
  ["/api/devices", { GET: listDevices }],
  ["/api/devices/revoke", { POST: revokeDevice }],
  ["/api/devices/pq-keys", { PUT: putPqKeys }],
  ["/api/devices/:id/pq-keys", { GET: getPqKeys }],
  ["/api/device/csr", { POST: rotateDeviceKey }],
  ["/api/p2p/assist", { GET: p2pAssist, POST: p2pAssist }],
  ["/api/e2e/key-packages", { POST: uploadKeyPackages }],
  ["/api/e2e/key-packages/:id", { GET: takeKeyPackage }],
  ["/api/e2e/devices/:id", { GET: listE2eDevices }],
  ["/api/e2e/welcome", { POST: sendWelcome }],
];

/** Paths and methods of {@link ROUTES}, as the OpenAPI document describes them. */
const SERVED: ServedRoute[] = ROUTES.map(([path, methods]) => ({
  path,
  methods: Object.keys(methods),
}));

/** Builds the REST API; call `.fetch(request)` on the result. */
export function createApi(deps: ApiDeps): Hono {
  // Route on the raw (still percent-encoded) path, as the server's own dispatch
  // and rate limits do: Hono's default decodes it first, so `/api/pair/%63laim`
  // reached the claim handler while escaping the pairing limit keyed on
  // `/api/pair/claim`. `{id}` segments are decoded by `pathSegment`.
  const app = new Hono({ getPath: (request) => new URL(request.url).pathname });
  for (const [path, methods] of ROUTES) {
    const allow = Object.keys(methods).flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]));
    app.all(path, (c) => {
      const method = c.req.method === "HEAD" ? "GET" : c.req.method;
      const handler = methods[method as keyof Methods];
      if (handler === undefined) {
        return problem(405, `use ${allow.join(", ")}`, { headers: { allow: allow.join(", ") } });
      }
      return handler(deps, c.req.raw);
    });
  }
  app.notFound(() => problem(404, "resource not found"));
  app.onError((error) => {
    if (error instanceof ApiError) {
      return problem(error.status, error.message, { headers: error.headers });
    }
    if (error instanceof StoreUnavailableError) {
      deps.log.warn("api: storage unavailable", { error: error.message });
      return problem(503, "storage unavailable, try again later");
    }
    deps.log.error("api: request failed", { error: String(error) });
    return problem(500, "internal server error");
  });
  return app;
}
