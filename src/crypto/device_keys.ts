/**
 * Device key pairs (upstream `DeviceKeyPair::from_seed`): `private = BLAKE3(seed)` is the
 * Ed25519 seed and `public` its Ed25519 public key. The same 32 bytes used as an X25519 scalar
 * give the Noise static key the upstream client presents (`client_static`).
 *
 * @module
 */

import { createPrivateKey, createPublicKey } from "node:crypto";
import { Buffer } from "node:buffer";
import { blake3 } from "./blake3.ts";
import { concatBytes, fromHex } from "./bytes.ts";
import { publicFromSeed } from "./ed25519.ts";

/** Minimum seed length accepted by {@link deviceKeysFromSeed}. */
export const MIN_DEVICE_SEED_BYTES = 32;

/** Error thrown for an unusable seed. */
export class DeviceKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceKeyError";
  }
}

/** A device identity: Ed25519 key pair plus the X25519 Noise static derived from the same bytes. */
export interface DeviceKeys {
  /** 32-byte Ed25519 seed (= BLAKE3 of the input seed). Secret. */
  readonly privateKey: Uint8Array;
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** X25519 static key: the same 32 private bytes as a (clamped) scalar, and its public. */
  readonly noiseStatic: { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array };
}

const X25519_PKCS8_PREFIX = fromHex("302e020100300506032b656e04220420");
const X25519_SPKI_PREFIX_LENGTH = 12;

/** X25519 public key of a 32-byte scalar (clamped per RFC 7748), via `node:crypto`. */
export function x25519PublicFromPrivate(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== 32) throw new DeviceKeyError("X25519 private key must be 32 bytes");
  const key = createPrivateKey({
    key: Buffer.from(concatBytes(X25519_PKCS8_PREFIX, privateKey)),
    format: "der",
    type: "pkcs8",
  });
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(X25519_SPKI_PREFIX_LENGTH));
}

/**
 * Derives a device key pair from `seed` (≥ 32 bytes, else {@link DeviceKeyError}).
 * Used both for devices and for the server's federation / device-CA key.
 */
export function deviceKeysFromSeed(seed: Uint8Array): DeviceKeys {
  if (!(seed instanceof Uint8Array) || seed.length < MIN_DEVICE_SEED_BYTES) {
    throw new DeviceKeyError(`device seed must be at least ${MIN_DEVICE_SEED_BYTES} bytes`);
  }
  const privateKey = blake3(seed);
  return {
    privateKey,
    publicKey: publicFromSeed(privateKey),
    noiseStatic: {
      privateKey: privateKey.slice(),
      publicKey: x25519PublicFromPrivate(privateKey),
    },
  };
}

/**
 * Fresh device keys from `seedLength` random bytes (default 64, as the upstream client does;
 * the server's pairing claim uses 32). The seed is returned too, for callers that hand it out.
 */
export function generateDeviceKeys(seedLength = 64): DeviceKeys & { readonly seed: Uint8Array } {
  if (!Number.isSafeInteger(seedLength) || seedLength < MIN_DEVICE_SEED_BYTES) {
    throw new DeviceKeyError(`device seed must be at least ${MIN_DEVICE_SEED_BYTES} bytes`);
  }
  const seed = crypto.getRandomValues(new Uint8Array(seedLength));
  return { ...deviceKeysFromSeed(seed), seed };
}
