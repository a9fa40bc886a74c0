/**
 * BLAKE3 of inputs that fit one chunk (≤ 1,024 bytes), with up to 64 bytes
 * of output: the ids (`id.ts`) and the ZKP challenge hash such inputs many
 * times per handshake, and `@noble/hashes` spends most of a call on setting
 * up its hasher objects there. The same compression function, flags and
 * root output as the specification; anything larger goes to noble
 * (`blake3.ts`). Checked against noble in blake3_chunk_test.ts.
 *
 * @module
 */

/** The largest input {@link blake3Chunk} takes (one chunk). */
export const BLAKE3_CHUNK_LEN = 1024;

const IV = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];
const CHUNK_START = 1;
const CHUNK_END = 2;
const ROOT = 8;

/** Message word order of each of the 7 rounds (the permutation applied round after round). */
// deno-fmt-ignore
const S = new Uint8Array([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8,
  3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1,
  10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6,
  12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4,
  9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7,
  11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13,
]);

// Scratch state, reused: the function is synchronous, so calls never overlap.
const cv = new Uint32Array(8);
const m = new Uint32Array(16);
const out = new Uint32Array(16);
const block = new Uint8Array(64);
const blockView = new DataView(block.buffer);

/**
 * Compresses `block` (`blockLen` bytes used) into `out` from `cv`, chunk counter 0.
 *
 * The rounds are BLAKE2s's (`noise/blake2s.ts`: same G, rotations and
 * column/diagonal order; only the schedule, the round count and the start and
 * end of the working vector differ) and are written out here again on purpose:
 * one shared rounds function over a 16-word vector cost 15-20% per hash at
 * every input size (minimum times, 32 B to 1 KiB, both hashes, measured
 * 2026-12-05 with the schedule as an argument and as module constants). The
 * vector has to leave the locals for a typed array at each call.
 */
function compress(blockLen: number, flags: number): void {
  for (let i = 0; i < 16; i++) m[i] = blockView.getUint32(i * 4, true);
  let v0 = cv[0] | 0, v1 = cv[1] | 0, v2 = cv[2] | 0, v3 = cv[3] | 0;
  let v4 = cv[4] | 0, v5 = cv[5] | 0, v6 = cv[6] | 0, v7 = cv[7] | 0;
  let v8 = IV[0] | 0, v9 = IV[1] | 0, v10 = IV[2] | 0, v11 = IV[3] | 0;
  let v12 = 0, v13 = 0, v14 = blockLen | 0, v15 = flags | 0;
  for (let r = 0; r < 112; r += 16) {
    v0 = (v0 + v4 + m[S[r + 0]]) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m[S[r + 1]]) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m[S[r + 2]]) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m[S[r + 3]]) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m[S[r + 4]]) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m[S[r + 5]]) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m[S[r + 6]]) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m[S[r + 7]]) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 7) | (v7 << 25);
    v0 = (v0 + v5 + m[S[r + 8]]) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m[S[r + 9]]) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m[S[r + 10]]) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m[S[r + 11]]) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m[S[r + 12]]) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m[S[r + 13]]) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m[S[r + 14]]) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m[S[r + 15]]) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 7) | (v4 << 25);
  }
  out[0] = v0 ^ v8;
  out[1] = v1 ^ v9;
  out[2] = v2 ^ v10;
  out[3] = v3 ^ v11;
  out[4] = v4 ^ v12;
  out[5] = v5 ^ v13;
  out[6] = v6 ^ v14;
  out[7] = v7 ^ v15;
  out[8] = v8 ^ cv[0];
  out[9] = v9 ^ cv[1];
  out[10] = v10 ^ cv[2];
  out[11] = v11 ^ cv[3];
  out[12] = v12 ^ cv[4];
  out[13] = v13 ^ cv[5];
  out[14] = v14 ^ cv[6];
  out[15] = v15 ^ cv[7];
}

/** BLAKE3 of `data` (≤ {@link BLAKE3_CHUNK_LEN} bytes), `outLen` (1–64) bytes of output. */
export function blake3Chunk(data: Uint8Array, outLen: number): Uint8Array {
  if (data.length > BLAKE3_CHUNK_LEN || !(outLen >= 1 && outLen <= 64)) {
    throw new RangeError("blake3Chunk: at most one chunk of input and 64 bytes of output");
  }
  for (let i = 0; i < 8; i++) cv[i] = IV[i];
  const blocks = Math.max(1, Math.ceil(data.length / 64));
  for (let b = 0; b < blocks; b++) {
    const start = b * 64;
    const length = Math.min(64, data.length - start);
    for (let i = 0; i < length; i++) block[i] = data[start + i];
    block.fill(0, length);
    const last = b === blocks - 1;
    compress(length, (b === 0 ? CHUNK_START : 0) | (last ? CHUNK_END | ROOT : 0));
    if (!last) { for (let i = 0; i < 8; i++) cv[i] = out[i]; }
  }
  const result = new Uint8Array(outLen);
  for (let i = 0; i < outLen; i++) result[i] = out[i >> 2] >>> ((i & 3) * 8);
  return result;
}
