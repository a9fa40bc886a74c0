/**
 * BLAKE2s-256 (RFC 7693, unkeyed) in TypeScript: the reference the
 * WebAssembly BLAKE2s of the server's handshakes (`wasm_blake2s.ts`, which
 * replaced this on that path) is checked against in wasm_blake2s_test.ts.
 * Checked itself against `node:crypto` and the RFC vector in blake2s_test.ts.
 *
 * @module
 */

const IV = new Uint32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

/** The message word order of each of the 10 rounds (RFC 7693 §2.7). */
// deno-fmt-ignore
const SIGMA = new Uint8Array([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
]);

// Scratch state, reused: the function is synchronous, so calls never overlap.
const h = new Uint32Array(8);
const m = new Uint32Array(16);
const block = new Uint8Array(64);
const blockView = new DataView(block.buffer);

/**
 * Compresses `block` into `h`; `count` bytes hashed so far (the 64-bit
 * counter), `last` the final block. The working vector lives in locals (the
 * G function written out): several times faster than a typed array. The
 * same rounds stand in `../blake3_chunk.ts`, not shared: see there why.
 */
function compress(count: number, last: boolean): void {
  for (let i = 0; i < 16; i++) m[i] = blockView.getUint32(i * 4, true);
  let v0 = h[0] | 0, v1 = h[1] | 0, v2 = h[2] | 0, v3 = h[3] | 0;
  let v4 = h[4] | 0, v5 = h[5] | 0, v6 = h[6] | 0, v7 = h[7] | 0;
  let v8 = IV[0] | 0, v9 = IV[1] | 0, v10 = IV[2] | 0, v11 = IV[3] | 0;
  let v12 = (IV[4] ^ count) | 0;
  let v13 = (IV[5] ^ Math.floor(count / 0x1_0000_0000)) | 0;
  let v14 = (last ? ~IV[6] : IV[6]) | 0;
  let v15 = IV[7] | 0;
  for (let r = 0; r < 160; r += 16) {
    v0 = (v0 + v4 + m[SIGMA[r + 0]]) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m[SIGMA[r + 1]]) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m[SIGMA[r + 2]]) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m[SIGMA[r + 3]]) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m[SIGMA[r + 4]]) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m[SIGMA[r + 5]]) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m[SIGMA[r + 6]]) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m[SIGMA[r + 7]]) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 7) | (v7 << 25);
    v0 = (v0 + v5 + m[SIGMA[r + 8]]) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m[SIGMA[r + 9]]) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m[SIGMA[r + 10]]) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m[SIGMA[r + 11]]) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m[SIGMA[r + 12]]) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m[SIGMA[r + 13]]) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m[SIGMA[r + 14]]) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m[SIGMA[r + 15]]) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 7) | (v4 << 25);
  }
  h[0] ^= v0 ^ v8;
  h[1] ^= v1 ^ v9;
  h[2] ^= v2 ^ v10;
  h[3] ^= v3 ^ v11;
  h[4] ^= v4 ^ v12;
  h[5] ^= v5 ^ v13;
  h[6] ^= v6 ^ v14;
  h[7] ^= v7 ^ v15;
}

/** BLAKE2s-256 of the concatenation of `parts` (without concatenating them). */
export function blake2s(...parts: Uint8Array[]): Uint8Array {
  h.set(IV);
  h[0] ^= 0x01010020; // digest length 32, no key, fanout 1, depth 1
  let filled = 0;
  let count = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length;) {
      if (filled === 64) {
        // A full block is compressed only once more input follows: the last one is flagged.
        count += 64;
        compress(count, false);
        filled = 0;
      }
      const end = Math.min(i + 64 - filled, part.length);
      while (i < end) block[filled++] = part[i++];
    }
  }
  block.fill(0, filled);
  compress(count + filled, true);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = h[i];
    out[i * 4] = word;
    out[i * 4 + 1] = word >>> 8;
    out[i * 4 + 2] = word >>> 16;
    out[i * 4 + 3] = word >>> 24;
  }
  return out;
}
