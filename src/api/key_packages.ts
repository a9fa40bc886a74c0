/**
 * The MLS key directory (docs/PROTOCOL.md "End-to-end encryption"): a device
 * uploads KeyPackages bound to it (basic credential = its device id, both MLS
 * signatures valid, and its Ed25519 device key's signature over the bytes);
 * friends and group co-members take one to add the device to an MLS group,
 * and list a user's devices with their key fingerprints and stock.
 *
 * @module
 */
import { z } from "zod";
import {
  decodeKeyPackage,
  deviceKeyFingerprint,
  keyPackageHash,
  MlsDecodeError,
  type MlsKeyPackageInfo,
  toHex,
  verifyDeviceKeyPackage,
  verifyKeyPackage,
} from "../crypto/mod.ts";
import { decodeBase64, encodeBase64 } from "../proto/mod.ts";
import {
  type DeviceRecord,
  KEY_PACKAGE_MAX_EXPIRY,
  type KeyPackageRecord,
  type UserRecord,
} from "../storage/mod.ts";
import { authenticate, type Caller } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { resolveUser } from "./friends.ts";
import { ApiError, json, pathSegment, readJson, rfc3339, validate } from "./http.ts";

/** Largest KeyPackage accepted, bytes (a post-quantum ML-DSA-87 one is about 15 KiB). */
export const MAX_KEY_PACKAGE_BYTES = 32 * 1024;
/** Most packages in one upload. */
export const MAX_KEY_PACKAGES_PER_UPLOAD = 100;
/** Most unexpired one-time packages a device may hold. */
export const MAX_ONE_TIME_KEY_PACKAGES = 200;
/** A `not_before` this far in the future is refused (clock skew allowance), seconds. */
const NOT_BEFORE_SKEW_S = 3600n;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "expected standard base64");

/** Body of POST /api/e2e/key-packages. */
export const keyPackagesBody = z.object({
  key_packages: z.array(z.object({
    data: base64.describe(
      "an MLS KeyPackage (RFC 9420), TLS-serialized, bare or as an MLSMessage (mls_key_package)",
    ),
    signature: base64.describe(
      'Ed25519 signature by the device key over "commucat/mls-key-package/v1" ‖ 0x00 ‖ ' +
        "u16be(len(device_id)) ‖ device_id ‖ data",
    ),
    last_resort: z.boolean().default(false).describe(
      "handed out without being consumed once no one-time package is left; replaces the previous one",
    ),
  })).min(1).max(MAX_KEY_PACKAGES_PER_UPLOAD),
});

function bytesOf(value: string, field: string): Uint8Array {
  try {
    return decodeBase64(value);
  } catch {
    throw new ApiError(400, `${field}: expected standard base64`);
  }
}

/** Why `info` is not a usable KeyPackage of `device` at `nowMs`, or null. */
function refusal(info: MlsKeyPackageInfo, device: DeviceRecord, nowMs: number): string | null {
  if (info.scheme === null) return `unsupported cipher suite ${info.cipherSuite}`;
  const identity = info.credential.type === "basic"
    ? new TextDecoder("utf-8", { fatal: false }).decode(info.credential.identity)
    : null;
  if (identity !== device.deviceId) {
    return `credential is not this device's: expected a basic credential with identity "${device.deviceId}"`;
  }
  if (
    info.initKey.length === info.encryptionKey.length &&
    toHex(info.initKey) === toHex(info.encryptionKey)
  ) {
    return "init_key equals the leaf's encryption_key";
  }
  const now = BigInt(Math.floor(nowMs / 1000));
  if (info.notAfter <= now) return "lifetime expired";
  if (info.notBefore > now + NOT_BEFORE_SKEW_S) return "lifetime not yet valid";
  if (!verifyKeyPackage(info)) return "KeyPackage or leaf node signature does not verify";
  return null;
}

function expiryOf(info: MlsKeyPackageInfo): Date {
  const max = BigInt(KEY_PACKAGE_MAX_EXPIRY.getTime() / 1000);
  return new Date(Number(info.notAfter < max ? info.notAfter : max) * 1000);
}

/**
 * POST /api/e2e/key-packages: the calling device publishes KeyPackages.
 * 201 `{stored, available, last_resort}`; every refusal names the entry.
 */
export async function uploadKeyPackages(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const body = validate(keyPackagesBody, await readJson(request));
  if (body.key_packages.filter((p) => p.last_resort).length > 1) {
    throw new ApiError(400, "key_packages: at most one last_resort package per upload");
  }
  const nowMs = deps.now();
  const device = caller.device;
  const records: KeyPackageRecord[] = [];
  for (const [i, entry] of body.key_packages.entries()) {
    const field = `key_packages.${i}`;
    const data = bytesOf(entry.data, `${field}.data`);
    if (data.length > MAX_KEY_PACKAGE_BYTES) {
      throw new ApiError(
        413,
        `${field}.data: key package too large (max ${MAX_KEY_PACKAGE_BYTES} bytes)`,
      );
    }
    let info: MlsKeyPackageInfo;
    try {
      info = decodeKeyPackage(data);
    } catch (error) {
      if (!(error instanceof MlsDecodeError)) throw error;
      throw new ApiError(400, `${field}.data: malformed KeyPackage: ${error.message}`);
    }
    const why = refusal(info, device, nowMs);
    if (why !== null) throw new ApiError(400, `${field}.data: ${why}`);
    const signature = bytesOf(entry.signature, `${field}.signature`);
    if (!verifyDeviceKeyPackage(device.publicKey, device.deviceId, data, signature)) {
      throw new ApiError(
        400,
        `${field}.signature: not this device key's signature over the key package`,
      );
    }
    records.push({
      deviceId: device.deviceId,
      packageHash: keyPackageHash(data),
      data,
      deviceSignature: signature,
      cipherSuite: info.cipherSuite,
      lastResort: entry.last_resort,
      createdAt: new Date(nowMs),
      expiresAt: expiryOf(info),
    });
  }
  const result = await deps.store.storeKeyPackages(
    device.deviceId,
    records,
    MAX_ONE_TIME_KEY_PACKAGES,
    new Date(nowMs),
  );
  if (!result.ok) {
    throw new ApiError(
      409,
      `too many key packages: this device holds ${result.stock.oneTime} (max ${MAX_ONE_TIME_KEY_PACKAGES})`,
    );
  }
  return json(
    {
      stored: result.stored,
      available: result.stock.oneTime,
      last_resort: result.stock.lastResort,
    },
    201,
  );
}

/** True when the caller may see `user`'s devices at all: own user or mutual friends. */
async function friendsOrSelf(deps: ApiDeps, caller: Caller, userId: string): Promise<boolean> {
  if (userId === caller.user.userId) return true;
  const [mine, theirs] = await Promise.all([
    deps.store.getFriends(caller.user.userId),
    deps.store.getFriends(userId),
  ]);
  return mine.some((e) => e.userId === userId) &&
    theirs.some((e) => e.userId === caller.user.userId);
}

const NO_PACKAGE = "no key package available for this device";

/**
 * True when the caller may address `deviceId` end to end: an active device
 * of its own user, of a mutual friend, or sharing a group with the caller's
 * device (the routing rule of docs/PROTOCOL.md "Reachability").
 */
export async function mayAddressDevice(
  deps: ApiDeps,
  caller: Caller,
  deviceId: string,
): Promise<boolean> {
  const device = await deps.store.getDevice(deviceId);
  if (device === null || device.status !== "active") return false;
  return (await friendsOrSelf(deps, caller, device.userId)) ||
    (await deps.store.devicesShareGroup(caller.device.deviceId, deviceId));
}

/**
 * GET /api/e2e/key-packages/{device_id}: takes one of the device's packages
 * (one-time ones are consumed; the last-resort one is not). Own user, mutual
 * friends and group co-members only; anyone else, an unknown or inactive
 * device and an empty stock get the same 404.
 */
export async function takeKeyPackage(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const deviceId = pathSegment(request, 4);
  const limit = deps.keyPackageTakes?.check(caller.user.userId);
  if (limit !== undefined && !limit.allowed) {
    throw new ApiError(429, "too many key package requests, try again later", {
      "retry-after": String(Math.max(1, Math.ceil(limit.retryAfterMs / 1000))),
    });
  }
  const at = deviceId.lastIndexOf("@");
  if (at > 0 && deviceId.slice(at + 1).toLowerCase() !== deps.domain.toLowerCase()) {
    // A device of another domain: its home server decides (federated friends only).
    const take = deps.federation?.takeKeyPackage;
    if (take === undefined) throw new ApiError(501, "federation is not enabled on this server");
    const result = await take.call(
      deps.federation,
      caller.user,
      deviceId.slice(0, at),
      deviceId.slice(at + 1).toLowerCase(),
    );
    if (!result.ok) throw new ApiError(result.status, result.detail);
    return json(result.keyPackage);
  }
  if (!(await mayAddressDevice(deps, caller, deviceId))) throw new ApiError(404, NO_PACKAGE);
  const device = await deps.store.getDevice(deviceId);
  if (device === null) throw new ApiError(404, NO_PACKAGE);
  const taken = await deps.store.consumeKeyPackage(deviceId, new Date(deps.now()));
  if (taken === null) throw new ApiError(404, NO_PACKAGE);
  if (!verifyDeviceKeyPackage(device.publicKey, deviceId, taken.data, taken.deviceSignature)) {
    // Signed by a device key since rotated away: none of its packages is vouched for now.
    await deps.store.deleteKeyPackages(deviceId);
    throw new ApiError(404, NO_PACKAGE);
  }
  return json({
    device_id: deviceId,
    user_id: device.userId,
    key_package: encodeBase64(taken.data),
    signature: encodeBase64(taken.deviceSignature),
    last_resort: taken.lastResort,
    cipher_suite: taken.cipherSuite,
    device_public: toHex(device.publicKey),
  });
}

function describeDevice(device: DeviceRecord, stock: { oneTime: number; lastResort: boolean }) {
  return {
    device_id: device.deviceId,
    public_key: toHex(device.publicKey),
    fingerprint: toHex(deviceKeyFingerprint(device.publicKey)),
    created_at: rfc3339(device.createdAt),
    key_packages: { one_time: stock.oneTime, last_resort: stock.lastResort },
  };
}

/**
 * GET /api/e2e/devices/{user_id}: the user's active devices with key
 * fingerprints and key-package stock. The own user and mutual friends see
 * every device; a group co-member only the devices that share a group with
 * the calling device; anyone else gets 404 `user not found`.
 */
export async function listE2eDevices(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const id = pathSegment(request, 4);
  const at = id.lastIndexOf("@");
  if (at > 0 && id.slice(at + 1).toLowerCase() !== deps.domain.toLowerCase()) {
    // A user of another domain: its home server answers (federated friends only).
    const list = deps.federation?.listDevices;
    if (list === undefined) throw new ApiError(501, "federation is not enabled on this server");
    const result = await list.call(
      deps.federation,
      caller.user,
      id.slice(0, at),
      id.slice(at + 1).toLowerCase(),
    );
    if (!result.ok) throw new ApiError(result.status, result.detail);
    return json(result.devices);
  }
  let user: UserRecord;
  try {
    user = await resolveUser(deps, id);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      throw new ApiError(404, "user not found");
    }
    throw error;
  }
  const active = (await deps.store.listDevicesForUser(user.userId)).filter((d) =>
    d.status === "active"
  );
  let devices = active;
  if (!(await friendsOrSelf(deps, caller, user.userId))) {
    const shared = await Promise.all(
      active.map((d) => deps.store.devicesShareGroup(caller.device.deviceId, d.deviceId)),
    );
    devices = active.filter((_, i) => shared[i]);
    if (devices.length === 0) throw new ApiError(404, "user not found");
  }
  const stock = await deps.store.keyPackageStock(
    devices.map((d) => d.deviceId),
    new Date(deps.now()),
  );
  return json({
    user_id: user.userId,
    handle: user.handle,
    devices: devices.map((d) =>
      describeDevice(d, stock.get(d.deviceId) ?? { oneTime: 0, lastResort: false })
    ),
  });
}
