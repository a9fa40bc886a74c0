/**
 * Bearer authentication of API requests: a session token (the session id of
 * a completed handshake) or, for operator endpoints, the admin token.
 *
 * @module
 */
import type { DeviceRecord, SessionRecord, UserRecord } from "../storage/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError } from "./http.ts";

/** Who is calling: the session, its device and user. */
export interface Caller {
  session: SessionRecord;
  device: DeviceRecord;
  user: UserRecord;
}

const CHALLENGE = { "www-authenticate": 'Bearer realm="commucat"' };

/** The token of the `authorization` header: after `Bearer ` when present, else the whole value. */
export function bearerToken(request: Request): string {
  const header = request.headers.get("authorization");
  if (header === null) throw new ApiError(401, "missing Authorization header", CHALLENGE);
  // HTTP stacks trim header values, so "Bearer " arrives as "Bearer": an empty token.
  const scheme = /^bearer(?:\s+|$)/i.exec(header.trim());
  const token = scheme ? header.trim().slice(scheme[0].length).trim() : header.trim();
  if (token === "") throw new ApiError(401, "empty token provided", CHALLENGE);
  return token;
}

/**
 * The caller behind a session bearer token. 401 for a missing, unknown or
 * expired session or a vanished device/user; 403 for a device that is not
 * active (revoked).
 */
export async function authenticate(deps: ApiDeps, request: Request): Promise<Caller> {
  const token = bearerToken(request);
  // Session ids are 64 hex chars; anything else cannot name one (and is not looked up).
  const session = token.length <= 128 ? await deps.store.getSession(token) : null;
  if (session === null) throw new ApiError(401, "session not found or expired", CHALLENGE);
  if (session.createdAt.getTime() + session.ttlSeconds * 1000 <= deps.now()) {
    throw new ApiError(401, "session expired, please reconnect", CHALLENGE);
  }
  const device = await deps.store.getDevice(session.deviceId);
  if (device === null) throw new ApiError(401, "device not found", CHALLENGE);
  if (device.status !== "active") throw new ApiError(403, `device is ${device.status}`);
  const user = await deps.store.getUser(device.userId);
  if (user === null) throw new ApiError(401, "user not found", CHALLENGE);
  return { session, device, user };
}

/** Requires the admin bearer token (401 otherwise). */
export async function requireAdmin(deps: ApiDeps, request: Request): Promise<void> {
  const token = bearerToken(request);
  if (!(await deps.verifyAdminToken(token))) {
    throw new ApiError(401, "invalid admin token", CHALLENGE);
  }
}
