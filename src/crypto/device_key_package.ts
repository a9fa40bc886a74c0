/**
 * A device's Ed25519 signature over an MLS KeyPackage it publishes: binds
 * the package bytes to the device id under a fixed domain, so the server
 * (and every client that fetches it) can tell the package came from the
 * device whose registered key it knows — a package signed by another
 * device's key, or moved to another device id, does not verify.
 *
 * @module
 */

import { concatBytes, utf8 } from "./bytes.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { sign, verify } from "./ed25519.ts";

/** Domain of the device's signature over a KeyPackage. */
export const DEVICE_KEY_PACKAGE_DOMAIN = "commucat/mls-key-package/v1";

/**
 * `DOMAIN ‖ 0x00 ‖ u16be(len(device_id)) ‖ device_id ‖ key_package`: what the
 * device key signs (`key_package` = the bytes exactly as uploaded).
 */
export function deviceKeyPackageMessage(deviceId: string, keyPackage: Uint8Array): Uint8Array {
  const id = utf8(deviceId);
  if (id.length > 0xffff) throw new RangeError("device id too long");
  return concatBytes(
    utf8(DEVICE_KEY_PACKAGE_DOMAIN),
    new Uint8Array([0, id.length >> 8, id.length & 0xff]),
    id,
    keyPackage,
  );
}

/** The device's Ed25519 signature over a KeyPackage (64 bytes). */
export function signDeviceKeyPackage(
  deviceSeed: Uint8Array,
  deviceId: string,
  keyPackage: Uint8Array,
): Uint8Array {
  return sign(deviceKeyPackageMessage(deviceId, keyPackage), deviceSeed);
}

/** True when `signature` is the device key's over this KeyPackage; false for anything malformed. */
export function verifyDeviceKeyPackage(
  devicePublic: Uint8Array,
  deviceId: string,
  keyPackage: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  return verify(signature, deviceKeyPackageMessage(deviceId, keyPackage), devicePublic);
}

/**
 * A device key's fingerprint: SHA-256 of its 32-byte Ed25519 public key.
 * What clients compare (and build safety numbers from) to see that a device
 * key, and so every KeyPackage it signed, is the one they expect.
 */
export function deviceKeyFingerprint(devicePublic: Uint8Array): Uint8Array {
  return sha256(devicePublic);
}

/** SHA-256 of a KeyPackage's bytes: how the server tells a re-sent package from a new one. */
export function keyPackageHash(keyPackage: Uint8Array): Uint8Array {
  return sha256(keyPackage);
}
