/**
 * Device key rotation proof (upstream `app/rotation.rs`, `POST /api/device/csr`): the current
 * device key signs a 32-byte BLAKE3 digest binding the device, the new key, an expiry and an
 * optional nonce. Request-level checks (expiry window, TTL, nonce length, interval) belong to
 * the API layer; {@link MIN_ROTATION_NONCE_BYTES} is exported for it.
 *
 * @module
 */

import { blake3 } from "./blake3.ts";
import { concatBytes, utf8 } from "./bytes.ts";
import { sign, verify } from "./ed25519.ts";

/** Domain tag prefixed to the proof message. */
export const ROTATION_PROOF_TAG = "commucat:device-rotation:v1";
/** Smallest nonce upstream accepts (hex of at least 8 bytes). */
export const MIN_ROTATION_NONCE_BYTES = 8;

/** What a rotation proof binds. */
export interface RotationProofFields {
  deviceId: string;
  /** 32-byte new Ed25519 public key. */
  newPublicKey: Uint8Array;
  /** Proof expiry, Unix seconds (written as i64 big-endian). */
  expiresAt: number | bigint;
  /** Optional nonce bytes, appended verbatim. */
  nonce?: Uint8Array;
}

/** Error for malformed proof fields. */
export class RotationProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RotationProofError";
  }
}

function i64be(value: number | bigint): Uint8Array {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RotationProofError("expiresAt must be integer seconds");
  }
  const n = BigInt(value);
  if (n !== BigInt.asIntN(64, n)) throw new RotationProofError("expiresAt out of i64 range");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, n, false);
  return out;
}

/**
 * BLAKE3(tag || utf8(deviceId) || newPublicKey[32] || i64_be(expiresAt) || nonce?), 32 bytes.
 */
export function rotationProofMessage(fields: RotationProofFields): Uint8Array {
  if (!(fields.newPublicKey instanceof Uint8Array) || fields.newPublicKey.length !== 32) {
    throw new RotationProofError("new public key must be 32 bytes");
  }
  return blake3(concatBytes(
    utf8(ROTATION_PROOF_TAG),
    utf8(fields.deviceId),
    fields.newPublicKey,
    i64be(fields.expiresAt),
    fields.nonce ?? new Uint8Array(0),
  ));
}

/** Signs the proof with the device's *current* 32-byte Ed25519 seed; returns 64 bytes. */
export function signRotationProof(
  currentSeed: Uint8Array,
  fields: RotationProofFields,
): Uint8Array {
  return sign(rotationProofMessage(fields), currentSeed);
}

/**
 * `true` iff `signature` is the current key's signature over the proof message. Returns `false`
 * (never throws) for malformed keys or signatures; throws {@link RotationProofError} only for
 * malformed `fields`, which the caller should have validated.
 */
export function verifyRotationProof(
  currentPublic: Uint8Array,
  signature: Uint8Array,
  fields: RotationProofFields,
): boolean {
  return verify(signature, rotationProofMessage(fields), currentPublic);
}
