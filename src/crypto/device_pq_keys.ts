/**
 * A device's post-quantum public keys, vouched for by its Ed25519 device key:
 * the signed message binds the device id and both keys, under a fixed domain,
 * so a signature cannot be replayed for another device or another purpose.
 *
 * @module
 */

import { concatBytes, utf8 } from "./bytes.ts";
import { sign, verify } from "./ed25519.ts";

/** Domain of the device's signature over its post-quantum keys. */
export const DEVICE_PQ_KEYS_DOMAIN = "commucat/device-pq-keys/v1";

/** ML-KEM-768 and ML-DSA-65 public key sizes. */
export const DEVICE_PQ_KEY_LENGTHS = Object.freeze({ kem: 1184, signature: 1952 });

/**
 * `DOMAIN ‖ 0x00 ‖ u16be(len(device_id)) ‖ device_id ‖ kem_public ‖ signature_public`:
 * what the device key signs (the key sizes are fixed, the id is length-prefixed).
 */
export function devicePqKeysMessage(
  deviceId: string,
  kemPublic: Uint8Array,
  signaturePublic: Uint8Array,
): Uint8Array {
  const id = utf8(deviceId);
  if (id.length > 0xffff) throw new RangeError("device id too long");
  const length = new Uint8Array([id.length >> 8, id.length & 0xff]);
  return concatBytes(
    utf8(DEVICE_PQ_KEYS_DOMAIN),
    new Uint8Array([0]),
    length,
    id,
    kemPublic,
    signaturePublic,
  );
}

/** The device's Ed25519 signature over its post-quantum keys (64 bytes). */
export function signDevicePqKeys(
  deviceSeed: Uint8Array,
  deviceId: string,
  kemPublic: Uint8Array,
  signaturePublic: Uint8Array,
): Uint8Array {
  return sign(devicePqKeysMessage(deviceId, kemPublic, signaturePublic), deviceSeed);
}

/** True when `signature` is the device key's over these keys; false for anything malformed. */
export function verifyDevicePqKeys(
  devicePublic: Uint8Array,
  deviceId: string,
  kemPublic: Uint8Array,
  signaturePublic: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (
    kemPublic.length !== DEVICE_PQ_KEY_LENGTHS.kem ||
    signaturePublic.length !== DEVICE_PQ_KEY_LENGTHS.signature || signature.length !== 64
  ) {
    return false;
  }
  return verify(signature, devicePqKeysMessage(deviceId, kemPublic, signaturePublic), devicePublic);
}
