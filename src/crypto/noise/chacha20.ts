/**
 * The ChaCha20 core (RFC 8439 §2.3–2.4) for `chacha_poly.ts`: the key and
 * one 64-byte key-stream block live in module scratch buffers, so a call
 * creates no object. The caller loads a key with {@link loadChaChaKey} and
 * clears it with {@link wipeChaCha} when the message is done.
 *
 * The arithmetic is add/rotate/xor only: branch-free on secret data.
 *
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** ChaCha20 key words, loaded per call. */
const keyWords = new Uint32Array(8);
/** One 64-byte key-stream block. */
const stream = new Uint32Array(16);
const streamBytes = new Uint8Array(stream.buffer);

/** Loads the 32-byte `key` as the ChaCha20 key words. */
export function loadChaChaKey(key: Uint8Array): void {
  for (let i = 0, j = 0; i < 8; i++, j += 4) {
    keyWords[i] = key[j] | (key[j + 1] << 8) | (key[j + 2] << 16) | (key[j + 3] << 24);
  }
}

/** Wipes the key words and the key-stream block. */
export function wipeChaCha(): void {
  keyWords.fill(0);
  stream.fill(0);
}

/**
 * Computes ChaCha20 block `counter` for the loaded key and nonce (0, lo, hi)
 * and returns it: the module's one scratch block, overwritten by the next call
 * and by {@link wipeChaCha}.
 */
export function chachaBlock(counter: number, lo: number, hi: number): Uint8Array {
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
  const s = stream;
  s[0] = x0 + 0x61707865, s[1] = x1 + 0x3320646e, s[2] = x2 + 0x79622d32, s[3] = x3 + 0x6b206574;
  s[4] = x4 + k[0], s[5] = x5 + k[1], s[6] = x6 + k[2], s[7] = x7 + k[3];
  s[8] = x8 + k[4], s[9] = x9 + k[5], s[10] = x10 + k[6], s[11] = x11 + k[7];
  s[12] = x12 + counter, s[13] = x13, s[14] = x14 + lo, s[15] = x15 + hi;
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < 16; i++) {
      const w = s[i];
      s[i] = (w >>> 24) | ((w >>> 8) & 0xff00) | ((w << 8) & 0xff0000) | (w << 24);
    }
  }
  return streamBytes;
}

/**
 * XORs `input[inAt..inAt+length)` with the key stream from block 1 on into
 * `output[outAt..)`. In place when both are the same bytes (each byte is read
 * before it is written).
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
  for (let pos = 0, counter = 1; pos < length; counter++) {
    const bytes = chachaBlock(counter, lo, hi);
    const end = Math.min(length, pos + 64);
    for (let j = 0; pos < end; pos++, j++) output[outAt + pos] = input[inAt + pos] ^ bytes[j];
  }
}
