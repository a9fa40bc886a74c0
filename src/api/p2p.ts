/**
 * `GET|POST /api/p2p/assist` (upstream §11.4): what the server offers the
 * caller for a multipath session. Session bearer (upstream left it open),
 * a per-device rate limit on top of the per-client one, problem+json errors.
 * The content comes from the server's P2P part (src/p2p, through
 * {@link ApiDeps.p2p}); the `noise` section is the server's real handshake
 * material (upstream returned a throw-away random key pair).
 *
 * @module
 */
import { z } from "zod";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, readJson, validate } from "./http.ts";
import { serverInfo } from "./server_info.ts";

/**
 * Body of POST /api/p2p/assist (all optional; GET or an empty body = `{}`).
 * Upstream's other fields (`paths`, `peer_hint`, `prefer_reality`) are
 * accepted and ignored: the server never probes addresses a client names.
 */
export const assistBody = z.looseObject({
  fec: z.looseObject({
    /** Accepted for upstream clients; the symbol size is the server's. */
    mtu: z.int().min(64).max(65_535).optional(),
    /** Smallest repair overhead the caller's sessions will ask for (raised to what the paths need). */
    repair_overhead: z.number().min(0).max(4).optional(),
  }).optional(),
  /** Paths the caller means to run (default 2): the plan covers at least this many. */
  min_paths: z.int().min(1).max(8).optional(),
});

/** The assist request as the P2P part takes it. */
export type AssistBody = z.output<typeof assistBody>;

/** GET or POST /api/p2p/assist. */
export async function p2pAssist(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  if (!deps.p2p) throw new ApiError(404, "p2p assist is not enabled on this server");
  const raw = request.method === "POST" ? (await readJson(request)) ?? {} : {};
  const body = validate(assistBody, raw);
  const answer = await deps.p2p.assist(caller.device.deviceId, body);
  if ("retryAfterMs" in answer) {
    const seconds = Math.max(1, Math.ceil(answer.retryAfterMs / 1000));
    throw new ApiError(429, `assist rate limit exceeded; retry after ${seconds} s`, {
      "retry-after": String(seconds),
    });
  }
  const info = serverInfo(deps);
  return json({
    noise: {
      patterns: info.supported_patterns,
      static_public_hex: info.noise_public,
      prologue_hex: deps.p2p.prologueHex,
    },
    ...answer.body,
    // What the client SDK does (src/client/reconnect.ts), not upstream's constants.
    reconnect: {
      strategy: "exponential_backoff",
      initial_backoff_secs: 0.25,
      max_backoff_secs: 10,
      max_attempts: 0,
    },
  });
}
