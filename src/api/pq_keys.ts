/**
 * Devices' post-quantum public keys (ML-KEM-768, ML-DSA-65), the base for
 * end-to-end PQ encryption between devices: a device publishes its own,
 * signed by its Ed25519 device key; its own user and mutual friends read
 * them (docs/PROTOCOL.md "Device post-quantum keys").
 *
 * @module
 */
import { z } from "zod";
import { DEVICE_PQ_KEY_LENGTHS, fromHex, toHex, verifyDevicePqKeys } from "../crypto/mod.ts";
import type { DevicePqKeys } from "../storage/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, pathSegment, readJson, rfc3339, validate } from "./http.ts";

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `expected ${bytes} bytes as hex`);

/** Body of PUT /api/devices/pq-keys. */
export const pqKeysBody = z.object({
  kem_public: hex(DEVICE_PQ_KEY_LENGTHS.kem).describe("ML-KEM-768 encapsulation key"),
  signature_public: hex(DEVICE_PQ_KEY_LENGTHS.signature).describe("ML-DSA-65 public key"),
  signature: hex(64).describe(
    'Ed25519 signature by the device key over "commucat/device-pq-keys/v1" ‖ 0x00 ‖ ' +
      "u16be(len(device_id)) ‖ device_id ‖ kem_public ‖ signature_public",
  ),
});

function describe(keys: DevicePqKeys, userId: string, devicePublic: Uint8Array) {
  return {
    device_id: keys.deviceId,
    user_id: userId,
    device_public: toHex(devicePublic),
    kem_public: toHex(keys.kemPublic),
    signature_public: toHex(keys.signaturePublic),
    signature: toHex(keys.deviceSignature),
    updated_at: rfc3339(keys.updatedAt),
  };
}

/** PUT /api/devices/pq-keys: the calling device publishes (or replaces) its post-quantum keys. */
export async function putPqKeys(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const body = validate(pqKeysBody, await readJson(request));
  const kemPublic = fromHex(body.kem_public.toLowerCase());
  const signaturePublic = fromHex(body.signature_public.toLowerCase());
  const signature = fromHex(body.signature.toLowerCase());
  const device = caller.device;
  if (
    !verifyDevicePqKeys(device.publicKey, device.deviceId, kemPublic, signaturePublic, signature)
  ) {
    throw new ApiError(400, "signature: not the device key's signature over these keys");
  }
  const keys: DevicePqKeys = {
    deviceId: device.deviceId,
    kemPublic,
    signaturePublic,
    deviceSignature: signature,
    updatedAt: new Date(deps.now()),
  };
  await deps.store.putDevicePqKeys(keys);
  return json(describe(keys, caller.user.userId, device.publicKey));
}

/**
 * GET /api/devices/{id}/pq-keys: a device's post-quantum keys, for its own
 * user and mutual friends; anyone else gets the same 404 as for an unknown
 * device (no probing which devices exist).
 */
export async function getPqKeys(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const deviceId = pathSegment(request, 3);
  const notFound = new ApiError(404, "device not found, or it published no post-quantum keys");
  const device = await deps.store.getDevice(deviceId);
  if (device === null || device.status !== "active") throw notFound;
  if (device.userId !== caller.user.userId) {
    const mine = await deps.store.getFriends(caller.user.userId);
    const theirs = await deps.store.getFriends(device.userId);
    const mutual = mine.some((e) => e.userId === device.userId) &&
      theirs.some((e) => e.userId === caller.user.userId);
    if (!mutual) throw notFound;
  }
  const keys = await deps.store.getDevicePqKeys(deviceId);
  if (keys === null) throw notFound;
  // Published under an older device key (rotated since): no longer vouched for.
  if (
    !verifyDevicePqKeys(
      device.publicKey,
      deviceId,
      keys.kemPublic,
      keys.signaturePublic,
      keys.deviceSignature,
    )
  ) {
    throw notFound;
  }
  return json(describe(keys, device.userId, device.publicKey));
}
