/**
 * BLAKE3 wrappers over `@noble/hashes`: fixed-length digests and XOF output.
 *
 * @module
 */

import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";

/** BLAKE3 of `data`, `outLen` bytes (default 32; longer output reads the XOF). */
export function blake3(data: Uint8Array, outLen = 32): Uint8Array {
  if (!Number.isSafeInteger(outLen) || outLen < 1) {
    throw new RangeError("blake3 output length must be a positive integer");
  }
  return nobleBlake3(data, { dkLen: outLen });
}

/** 64 bytes of BLAKE3 XOF output over `data` (input to a wide reduction mod ℓ). */
export function blake3Xof64(data: Uint8Array): Uint8Array {
  return nobleBlake3(data, { dkLen: 64 });
}
