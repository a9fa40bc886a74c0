/**
 * The ChaCha20 core (RFC 8439 §2.3–2.4) for `chacha_poly.ts`: the key and
 * one 64-byte key-stream block live in one module scratch buffer, so a call
 * creates no object and one fill wipes both. The caller loads a key with
 * {@link loadChaChaKey} and clears it with {@link wipeChaCha} when the
 * message is done. Key-stream words are numbers, taken apart into bytes with
 * shifts, so the code does not depend on the platform's byte order.
 *
 * The arithmetic is add/rotate/xor only: branch-free on secret data.
 *
 * @module
 */

/** ChaCha20 key words (0..8) and one key-stream block (8..24): one buffer, one wipe. */
const scratch = new Uint32Array(24);
const keyWords = scratch.subarray(0, 8);
/**
 * The last key-stream block as 16 words (byte 4i+j is `(w[i] >>> 8j) & 0xff`);
 * overwritten by every {@link chachaBlock} and by {@link wipeChaCha}.
 */
export const chachaStream: Uint32Array = scratch.subarray(8, 24);

/** Loads the 32-byte `key` as the ChaCha20 key words. */
export function loadChaChaKey(key: Uint8Array): void {
  for (let i = 0, j = 0; i < 8; i++, j += 4) {
    keyWords[i] = key[j] | (key[j + 1] << 8) | (key[j + 2] << 16) | (key[j + 3] << 24);
  }
}

/** Wipes the key words and the key-stream block. */
export function wipeChaCha(): void {
  scratch.fill(0);
}

/**
 * Computes ChaCha20 block `counter` for the loaded key and nonce (0, lo, hi)
 * into {@link chachaStream} (the caller reads the words there).
 */
export function chachaBlock(counter: number, lo: number, hi: number): void {
  const k = keyWords;
  let x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
  let x4 = k[0] | 0, x5 = k[1] | 0, x6 = k[2] | 0, x7 = k[3] | 0;
  let x8 = k[4] | 0, x9 = k[5] | 0, x10 = k[6] | 0, x11 = k[7] | 0;
  let x12 = counter | 0, x13 = 0, x14 = lo | 0, x15 = hi | 0;
  for (let i = 0; i < 10; i++) {
    // Column round.
    x0 = (x0 + x4) | 0, x12 ^= x0, x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0, x4 ^= x8, x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0, x12 ^= x0, x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0, x4 ^= x8, x4 = (x4 << 7) | (x4 >>> 25);
    x1 = (x1 + x5) | 0, x13 ^= x1, x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0, x5 ^= x9, x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0, x13 ^= x1, x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0, x5 ^= x9, x5 = (x5 << 7) | (x5 >>> 25);
    x2 = (x2 + x6) | 0, x14 ^= x2, x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0, x6 ^= x10, x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0, x14 ^= x2, x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0, x6 ^= x10, x6 = (x6 << 7) | (x6 >>> 25);
    x3 = (x3 + x7) | 0, x15 ^= x3, x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0, x7 ^= x11, x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0, x15 ^= x3, x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0, x7 ^= x11, x7 = (x7 << 7) | (x7 >>> 25);
    // Diagonal round.
    x0 = (x0 + x5) | 0, x15 ^= x0, x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0, x5 ^= x10, x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0, x15 ^= x0, x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0, x5 ^= x10, x5 = (x5 << 7) | (x5 >>> 25);
    x1 = (x1 + x6) | 0, x12 ^= x1, x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0, x6 ^= x11, x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0, x12 ^= x1, x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0, x6 ^= x11, x6 = (x6 << 7) | (x6 >>> 25);
    x2 = (x2 + x7) | 0, x13 ^= x2, x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0, x7 ^= x8, x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0, x13 ^= x2, x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0, x7 ^= x8, x7 = (x7 << 7) | (x7 >>> 25);
    x3 = (x3 + x4) | 0, x14 ^= x3, x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0, x4 ^= x9, x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0, x14 ^= x3, x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0, x4 ^= x9, x4 = (x4 << 7) | (x4 >>> 25);
  }
  const s = chachaStream;
  s[0] = x0 + 0x61707865, s[1] = x1 + 0x3320646e, s[2] = x2 + 0x79622d32, s[3] = x3 + 0x6b206574;
  s[4] = x4 + k[0], s[5] = x5 + k[1], s[6] = x6 + k[2], s[7] = x7 + k[3];
  s[8] = x8 + k[4], s[9] = x9 + k[5], s[10] = x10 + k[6], s[11] = x11 + k[7];
  s[12] = x12 + counter, s[13] = x13, s[14] = x14 + lo, s[15] = x15 + hi;
}

/**
 * XORs `input[inAt..inAt+length)` with the key stream from block 1 on into
 * `output[outAt..)`. In place when both are the same bytes (each byte is read
 * before it is written). Whole blocks go four bytes per key-stream word; only
 * the tail of the last block goes byte by byte (positions are public).
 */
export function chachaXor(
  lo: number,
  hi: number,
  input: Uint8Array,
  inAt: number,
  output: Uint8Array,
  outAt: number,
  length: number,
): void {
  const s = chachaStream;
  let i = inAt, o = outAt, counter = 1;
  const fullEnd = inAt + (length & ~63);
  for (; i < fullEnd; counter++) {
    chachaBlock(counter, lo, hi);
    for (let w = 0; w < 16; w++, i += 4, o += 4) {
      const k = s[w];
      output[o] = input[i] ^ k;
      output[o + 1] = input[i + 1] ^ (k >>> 8);
      output[o + 2] = input[i + 2] ^ (k >>> 16);
      output[o + 3] = input[i + 3] ^ (k >>> 24);
    }
  }
  const rest = length & 63;
  if (rest > 0) {
    chachaBlock(counter, lo, hi);
    for (let j = 0; j < rest; j++, i++, o++) output[o] = input[i] ^ (s[j >>> 2] >>> ((j & 3) << 3));
  }
}
