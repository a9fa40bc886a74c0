/**
 * The caller's devices: list and revoke (upstream §7).
 *
 * @module
 */
import { z } from "zod";
import { toHex } from "../crypto/mod.ts";
import { MAX_DEVICE_ID_LENGTH } from "../proto/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, readJson, rfc3339, validate } from "./http.ts";

/** Body of POST /api/devices/revoke (validated here, documented in /openapi.json). */
// Only bounded, not held to the device id rules (PROTOCOL.md §3): a device registered
// before them under a now-refused id (say `x@peer.domain`) must stay revocable.
export const revokeBody = z.object({ device_id: z.string().max(MAX_DEVICE_ID_LENGTH).optional() });

/** GET /api/devices: the caller's user's devices, oldest first. */
export async function listDevices(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const devices = await deps.store.listDevicesForUser(caller.user.userId);
  return json({
    devices: devices.map((d) => ({
      device_id: d.deviceId,
      status: d.status,
      created_at: rfc3339(d.createdAt),
      public_key: toHex(d.publicKey),
      current: d.deviceId === caller.device.deviceId,
    })),
  });
}

/**
 * POST /api/devices/revoke: marks another device of the caller's user
 * revoked, deletes its sessions (its bearer tokens die) and closes its live
 * connections.
 */
export async function revokeDevice(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const body = validate(revokeBody, (await readJson(request)) ?? {});
  const deviceId = (body.device_id ?? "").trim();
  if (deviceId === "") throw new ApiError(400, "device_id is required");
  if (deviceId === caller.device.deviceId) {
    throw new ApiError(409, "cannot revoke active session device");
  }
  const device = await deps.store.getDevice(deviceId);
  // Another user's device answers exactly like an unknown one: a distinct
  // answer would let any user probe which device ids exist.
  if (device === null || device.userId !== caller.user.userId) {
    throw new ApiError(404, "device not found");
  }
  if (device.status !== "revoked") {
    await deps.store.setDeviceStatus(deviceId, "revoked");
    await deps.store.deleteSessionsForDevice(deviceId);
    // Its MLS KeyPackages must not add it to any group from now on.
    await deps.store.deleteKeyPackages(deviceId);
    await deps.disconnectDevice(deviceId, "revoked");
    await deps.ledger?.record({
      action: "revoke",
      source: "devices-revoke",
      device_id: deviceId,
      user_id: caller.user.userId,
      by_device_id: caller.device.deviceId,
    });
    deps.log.info("device revoked", { device: deviceId, by: caller.device.deviceId });
  }
  return json({ device_id: deviceId, status: "revoked" });
}
