/**
 * Ed25519 (RFC 8032, pure, deterministic) with two interchangeable backends:
 *
 * - `native` (default): `node:crypto`, fast; keys are imported as PKCS8/SPKI DER.
 * - `noble`: `@noble/curves`, pure JS, the reference the native backend is tested against.
 *
 * Both backends apply the same verification policy so they agree on every input:
 * cofactorless equation, canonical `s < ℓ`, canonical point encodings (`y < p`), and
 * small-order public keys rejected (noble's strict mode; the native backend adds an explicit
 * byte check because OpenSSL-style verifiers accept them).
 *
 * Error policy: functions taking a *seed* throw {@link Ed25519Error} when it is not 32 bytes
 * (a programming error). {@link verify} is total: it returns `false` — never throws — for any
 * public key or signature that is malformed, including wrong lengths.
 *
 * @module
 */

import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { ed25519 as nobleCurve } from "@noble/curves/ed25519.js";
import { concatBytes, fromHex, toHex } from "./bytes.ts";

/** Length of an Ed25519 seed (the RFC 8032 private key) in bytes. */
export const ED25519_SEED_BYTES = 32;
/** Length of an Ed25519 public key in bytes. */
export const ED25519_PUBLIC_BYTES = 32;
/** Length of an Ed25519 signature in bytes. */
export const ED25519_SIGNATURE_BYTES = 64;

/** Error thrown for a wrongly sized seed. */
export class Ed25519Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Ed25519Error";
  }
}

/** The operations every backend provides. */
export interface Ed25519Backend {
  /** Backend name, for benches and diagnostics. */
  readonly name: "native" | "noble";
  /** Public key of a 32-byte seed. Throws {@link Ed25519Error} on a wrong seed length. */
  publicFromSeed(seed: Uint8Array): Uint8Array;
  /** Deterministic signature of `message`. Throws {@link Ed25519Error} on a wrong seed length. */
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  /** `true` iff `signature` is valid; `false` for anything malformed (never throws). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

const PKCS8_PREFIX = fromHex("302e020100300506032b657004220420");
const SPKI_PREFIX = fromHex("302a300506032b6570032100");

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES) {
    throw new Ed25519Error(`Ed25519 seed must be ${ED25519_SEED_BYTES} bytes`);
  }
}

// y-coordinates (sign bit cleared) of the 8 small-order points: 1, p-1, 0 and the two order-8 ys.
const SMALL_ORDER_Y = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
].map((h) => fromHex(h));

/**
 * `true` when a 32-byte point encoding is non-canonical (`y ≥ p`) or names a small-order point
 * (or an invalid `x = 0` sign variant of one). Such public keys are refused by both backends.
 */
export function isWeakPublicKeyEncoding(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return true;
  const y = bytes.slice();
  y[31] &= 0x7f;
  // y ≥ p = 2^255 - 19  ⇔  y[0] ≥ 0xed, y[1..30] = 0xff, y[31] = 0x7f
  let allFF = y[31] === 0x7f;
  for (let i = 1; i < 31 && allFF; i++) allFF = y[i] === 0xff;
  if (allFF && y[0] >= 0xed) return true;
  return SMALL_ORDER_Y.some((s) => s.every((b, i) => b === y[i]));
}

// Public KeyObjects are cached (public data; import costs about as much as a verify).
const PUBLIC_CACHE_LIMIT = 1024;
const publicCache = new Map<string, KeyObject | null>();

function nativePublicKey(publicKey: Uint8Array): KeyObject | null {
  const id = toHex(publicKey);
  const hit = publicCache.get(id);
  if (hit !== undefined) return hit;
  let key: KeyObject | null;
  try {
    key = createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)),
      format: "der",
      type: "spki",
    });
  } catch {
    key = null; // not a decodable point
  }
  if (publicCache.size >= PUBLIC_CACHE_LIMIT) {
    const oldest = publicCache.keys().next().value;
    if (oldest !== undefined) publicCache.delete(oldest);
  }
  publicCache.set(id, key);
  return key;
}

/**
 * Imports a seed as a `node:crypto` private KeyObject. Hold the result (see {@link createSigner})
 * instead of re-importing for every signature; secrets are deliberately not cached globally.
 */
function nativePrivateKey(seed: Uint8Array): KeyObject {
  checkSeed(seed);
  return createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)),
    format: "der",
    type: "pkcs8",
  });
}

function publicOfKeyObject(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

function nativeVerifyWith(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) {
    return false;
  }
  if (!(publicKey instanceof Uint8Array) || isWeakPublicKeyEncoding(publicKey)) return false;
  const key = nativePublicKey(publicKey);
  if (key === null) return false;
  try {
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** `node:crypto` backend (the default). */
export const nativeEd25519: Ed25519Backend = {
  name: "native",
  publicFromSeed(seed) {
    return publicOfKeyObject(nativePrivateKey(seed));
  },
  sign(message, seed) {
    return new Uint8Array(nodeSign(null, message, nativePrivateKey(seed)));
  },
  verify: nativeVerifyWith,
};

/** `@noble/curves` backend (pure JS reference; strict RFC 8032 decoding, `zip215: false`). */
export const nobleEd25519: Ed25519Backend = {
  name: "noble",
  publicFromSeed(seed) {
    checkSeed(seed);
    return nobleCurve.getPublicKey(seed);
  },
  sign(message, seed) {
    checkSeed(seed);
    return nobleCurve.sign(message, seed);
  },
  verify(signature, message, publicKey) {
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) {
      return false;
    }
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_BYTES) {
      return false;
    }
    try {
      return nobleCurve.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};

/** Public key of a 32-byte Ed25519 seed (native backend). */
export function publicFromSeed(seed: Uint8Array): Uint8Array {
  return nativeEd25519.publicFromSeed(seed);
}

/** Deterministic RFC 8032 signature of `message` under `seed` (native backend). */
export function sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return nativeEd25519.sign(message, seed);
}

/** Verifies `signature` over `message`; `false` for anything invalid or malformed. */
export function verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  return nativeEd25519.verify(signature, message, publicKey);
}

/** A signing key imported once, for repeated signatures (e.g. the device CA). */
export interface Ed25519Signer {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Deterministic signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** Imports `seed` once and returns a signer that reuses the native KeyObject. */
export function createSigner(seed: Uint8Array): Ed25519Signer {
  const key = nativePrivateKey(seed);
  const publicKey = publicOfKeyObject(key);
  return {
    publicKey,
    sign: (message) => new Uint8Array(nodeSign(null, message, key)),
  };
}
