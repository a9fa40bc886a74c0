/**
 * Device key rotation by certificate signing request (upstream §5.5,
 * `POST /api/device/csr`): the current device key signs the new key; the
 * server swaps them, issues a certificate and tells the device's live
 * connection with a KeyUpdate frame.
 *
 * @module
 */
import {
  certificateToJson,
  fromHex,
  issueCertificate,
  isWeakPublicKeyEncoding,
  MIN_ROTATION_NONCE_BYTES,
  toHex,
  utf8,
  verifyRotationProof,
} from "../crypto/mod.ts";
import { FrameType } from "../proto/mod.ts";
import { StoreConflictError } from "../storage/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, readJson, rfc3339 } from "./http.ts";

function hexOrNull(value: unknown, bytes?: number): Uint8Array | null {
  if (typeof value !== "string") return null;
  try {
    return fromHex(value, bytes);
  } catch {
    return null;
  }
}

// RFC 3339 with a mandatory zone (Z or ±hh:mm); Date.parse alone accepts far more.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** POST /api/device/csr */
export async function rotateDeviceKey(deps: ApiDeps, request: Request): Promise<Response> {
  const settings = deps.config.rotation;
  if (!settings.enabled) throw new ApiError(404, "device key rotation is disabled");
  const caller = await authenticate(deps, request);
  const body = await readJson(request);
  if (body === undefined) throw new ApiError(400, "request body is required");
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const newPublic = hexOrNull(b.public_key, 32);
  if (newPublic === null || isWeakPublicKeyEncoding(newPublic)) {
    throw new ApiError(400, "invalid public_key");
  }
  const signature = hexOrNull(b.signature, 64);
  if (signature === null) throw new ApiError(400, "invalid signature encoding");
  const expiresText = typeof b.expires_at === "string" ? b.expires_at : "";
  const expiresMs = RFC3339.test(expiresText) ? Date.parse(expiresText) : NaN;
  if (Number.isNaN(expiresMs)) throw new ApiError(400, "invalid expires_at");
  const expiresAt = Math.floor(expiresMs / 1000);
  const now = deps.now();
  const nowSeconds = Math.floor(now / 1000);
  if (expiresAt <= nowSeconds) throw new ApiError(400, "proof expired");
  if (expiresAt - nowSeconds > settings.proofTtlSeconds) {
    throw new ApiError(400, "expires_at exceeds proof_ttl");
  }
  let nonce: Uint8Array | undefined;
  if (b.nonce !== undefined && b.nonce !== null) {
    const parsed = hexOrNull(b.nonce);
    if (parsed === null || parsed.length < MIN_ROTATION_NONCE_BYTES || parsed.length > 64) {
      throw new ApiError(400, "invalid nonce");
    }
    nonce = parsed;
  }
  const device = caller.device;
  const fields = { deviceId: device.deviceId, newPublicKey: newPublic, expiresAt, nonce };
  if (!verifyRotationProof(device.publicKey, signature, fields)) {
    throw new ApiError(400, "signature verification failed");
  }
  if (toHex(newPublic) === toHex(device.publicKey)) {
    throw new ApiError(409, "public key unchanged");
  }
  const latest = await deps.store.latestDeviceKeyEvent(device.deviceId);
  if (latest !== null && now - latest.recordedAt.getTime() < settings.minIntervalSeconds * 1000) {
    throw new ApiError(409, "rotation interval not elapsed");
  }
  const rotationId = deps.newId(`rotation:${device.deviceId}`);
  const eventId = deps.newId(`rotate:${device.deviceId}`);
  const applied = new Date(now);
  try {
    await deps.store.rotateDeviceKey({
      deviceId: device.deviceId,
      newPublicKey: newPublic,
      event: { eventId, deviceId: device.deviceId, publicKey: newPublic, recordedAt: applied },
      audit: {
        rotationId,
        deviceId: device.deviceId,
        oldPublicKey: device.publicKey,
        newPublicKey: newPublic,
        signature,
        nonce: nonce ?? null,
        proofExpiresAt: new Date(expiresAt * 1000),
        appliedAt: applied,
      },
    });
  } catch (error) {
    if (error instanceof StoreConflictError) {
      throw new ApiError(409, "key already used by this device or changed concurrently");
    }
    throw error;
  }
  // KeyPackages signed by the old key are not vouched for any more: the device uploads new ones.
  await deps.store.deleteKeyPackages(device.deviceId).catch((error: unknown) =>
    deps.log.warn("key packages not deleted after rotation", { error: String(error) })
  );
  const certificate = issueCertificate({
    caSeed: deps.ca.seed,
    userId: caller.user.userId,
    deviceId: device.deviceId,
    publicKey: newPublic,
    now: nowSeconds,
  });
  const certText = certificateToJson(certificate);
  deps.onDeviceRotation?.();
  await deps.ledger?.record({
    action: "rotate",
    source: "device-csr",
    device_id: device.deviceId,
    user_id: caller.user.userId,
    rotation_id: rotationId,
    serial: certificate.serial.toString(),
  });
  const common = {
    device_id: device.deviceId,
    user_id: caller.user.userId,
    public_key: toHex(newPublic),
    old_public_key: toHex(device.publicKey),
    rotation_id: rotationId,
    event_id: eventId,
  };
  const notice = JSON.stringify({
    type: "device-key-rotated",
    ...common,
    issued_at: rfc3339(certificate.issued_at * 1000),
    expires_at: rfc3339(certificate.expires_at * 1000),
  }).slice(0, -1) + `,"certificate":${certText}}`;
  try {
    await deps.deliverToDevice(device.deviceId, {
      type: FrameType.KeyUpdate,
      channel: settings.notifyChannel,
      sequence: 0,
      payload: utf8(notice),
    });
  } catch (error) {
    // The rotation is applied; the device learns the new key from this response anyway.
    deps.log.warn("key update notice not delivered", {
      device: device.deviceId,
      error: String(error),
    });
  }
  deps.log.info("device key rotated", { device: device.deviceId, rotation: rotationId });
  return json(
    {
      ...common,
      applied_at: rfc3339(applied),
      proof_expires_at: rfc3339(expiresAt * 1000),
    },
    200,
    { certificate: certText },
  );
}
