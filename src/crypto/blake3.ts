/**
 * BLAKE3 wrappers: fixed-length digests and XOF output; one-chunk inputs
 * with up to 64 bytes out on `blake3_chunk.ts`, the rest on `@noble/hashes`.
 *
 * @module
 */

import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { BLAKE3_CHUNK_LEN, blake3Chunk } from "./blake3_chunk.ts";

/** BLAKE3 of `data`, `outLen` bytes (default 32; longer output reads the XOF). */
export function blake3(data: Uint8Array, outLen = 32): Uint8Array {
  if (!Number.isSafeInteger(outLen) || outLen < 1) {
    throw new RangeError("blake3 output length must be a positive integer");
  }
  // One chunk in, at most 64 bytes out (ids, digests): the allocation-free path.
  if (data.length <= BLAKE3_CHUNK_LEN && outLen <= 64) return blake3Chunk(data, outLen);
  return nobleBlake3(data, { dkLen: outLen });
}

/** 64 bytes of BLAKE3 XOF output over `data` (input to a wide reduction mod ℓ). */
export function blake3Xof64(data: Uint8Array): Uint8Array {
  if (data.length <= BLAKE3_CHUNK_LEN) return blake3Chunk(data, 64);
  return nobleBlake3(data, { dkLen: 64 });
}
