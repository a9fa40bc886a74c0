/**
 * ChaCha20-Poly1305 (RFC 8439) in plain TypeScript, written for the small
 * transport messages of a chat session: no object is created per call except
 * the output, the key stream and MAC state live in module scratch buffers
 * (wiped after every call), and Poly1305 reads the associated data and the
 * ciphertext in place instead of concatenating them.
 *
 * node:crypto builds a `Cipheriv` stream object plus a native cipher resource
 * per message; below a few KiB that object costs more than the cipher itself
 * and feeds malloc and the GC (docs/PERFORMANCE.md, Load). Larger messages
 * still go to node:crypto (see `native.ts`).
 *
 * The arithmetic is branch-free on secret data: ChaCha20 is add/rotate/xor,
 * Poly1305 uses 13-bit limbs (poly1305-donna-16, as in @noble/ciphers), and
 * the tag check accumulates differences before one final comparison.
 *
 * @module
 */

import { NoiseError } from "./errors.ts";
import { TAG_LENGTH } from "./primitives.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** ChaCha20 key words, loaded per call. */
const keyWords = new Uint32Array(8);
/** One 64-byte key-stream block. */
const stream = new Uint32Array(16);
const streamBytes = new Uint8Array(stream.buffer);
/** The 64-bit Noise nonce as two little-endian words. */
const nonceBytes = new Uint8Array(8);
const nonceView = new DataView(nonceBytes.buffer);
/** Poly1305 state: r (clamped, 13-bit limbs), h (accumulator), pad (s, 16-bit words). */
const polyR = new Uint16Array(10);
const polyH = new Uint16Array(10);
const polyPad = new Uint16Array(8);
/** A zero-padded final block of the AD or the ciphertext, and the lengths block. */
const lastBlock = new Uint8Array(16);
const tagScratch = new Uint8Array(16);

/** Fills `stream` with ChaCha20 block `counter` for `keyWords` and nonce (0, lo, hi). */
function chachaBlock(counter: number, lo: number, hi: number): void {
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
}

/**
 * XORs `input[inAt..inAt+length)` with the key stream from block 1 on into
 * `output[outAt..)`. In place when both are the same bytes (each byte is read
 * before it is written).
 */
function chachaXor(
  lo: number,
  hi: number,
  input: Uint8Array,
  inAt: number,
  output: Uint8Array,
  outAt: number,
  length: number,
): void {
  const bytes = streamBytes;
  for (let pos = 0, counter = 1; pos < length; counter++) {
    chachaBlock(counter, lo, hi);
    const end = Math.min(length, pos + 64);
    for (let j = 0; pos < end; pos++, j++) output[outAt + pos] = input[inAt + pos] ^ bytes[j];
  }
}

function u16(data: Uint8Array, i: number): number {
  return data[i] | (data[i + 1] << 8);
}

/** Sets up Poly1305 with the one-time key in the first 32 bytes of `streamBytes`. */
function polyInit(): void {
  const key = streamBytes;
  const t0 = u16(key, 0), t1 = u16(key, 2), t2 = u16(key, 4), t3 = u16(key, 6);
  const t4 = u16(key, 8), t5 = u16(key, 10), t6 = u16(key, 12), t7 = u16(key, 14);
  const r = polyR;
  r[0] = t0 & 0x1fff;
  r[1] = ((t0 >>> 13) | (t1 << 3)) & 0x1fff;
  r[2] = ((t1 >>> 10) | (t2 << 6)) & 0x1f03;
  r[3] = ((t2 >>> 7) | (t3 << 9)) & 0x1fff;
  r[4] = ((t3 >>> 4) | (t4 << 12)) & 0x00ff;
  r[5] = (t4 >>> 1) & 0x1ffe;
  r[6] = ((t4 >>> 14) | (t5 << 2)) & 0x1fff;
  r[7] = ((t5 >>> 11) | (t6 << 5)) & 0x1f81;
  r[8] = ((t6 >>> 8) | (t7 << 8)) & 0x1fff;
  r[9] = (t7 >>> 5) & 0x007f;
  for (let i = 0; i < 8; i++) polyPad[i] = u16(key, 16 + 2 * i);
  polyH.fill(0);
}

/**
 * Absorbs `data[at..at+length)` as 16-byte blocks, the last one zero-padded
 * (the AEAD's pad16: every block counts as full, high bit set).
 */
function polyUpdate(data: Uint8Array, at: number, length: number): void {
  const full = length & ~15;
  if (full > 0) polyBlocks(data, at, at + full);
  if (full < length) {
    lastBlock.fill(0);
    for (let i = full; i < length; i++) lastBlock[i - full] = data[at + i];
    polyBlocks(lastBlock, 0, 16);
  }
}

/** poly1305-donna-16 block function over `data[offset..end)`, `end - offset` a multiple of 16. */
function polyBlocks(data: Uint8Array, offset: number, end: number): void {
  const r = polyR, h = polyH;
  const r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r4 = r[4];
  const r5 = r[5], r6 = r[6], r7 = r[7], r8 = r[8], r9 = r[9];
  let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4];
  let h5 = h[5], h6 = h[6], h7 = h[7], h8 = h[8], h9 = h[9];
  for (; offset < end; offset += 16) {
    const t0 = u16(data, offset), t1 = u16(data, offset + 2);
    const t2 = u16(data, offset + 4), t3 = u16(data, offset + 6);
    const t4 = u16(data, offset + 8), t5 = u16(data, offset + 10);
    const t6 = u16(data, offset + 12), t7 = u16(data, offset + 14);
    h0 += t0 & 0x1fff;
    h1 += ((t0 >>> 13) | (t1 << 3)) & 0x1fff;
    h2 += ((t1 >>> 10) | (t2 << 6)) & 0x1fff;
    h3 += ((t2 >>> 7) | (t3 << 9)) & 0x1fff;
    h4 += ((t3 >>> 4) | (t4 << 12)) & 0x1fff;
    h5 += (t4 >>> 1) & 0x1fff;
    h6 += ((t4 >>> 14) | (t5 << 2)) & 0x1fff;
    h7 += ((t5 >>> 11) | (t6 << 5)) & 0x1fff;
    h8 += ((t6 >>> 8) | (t7 << 8)) & 0x1fff;
    h9 += (t7 >>> 5) | (1 << 11);

    let c = 0;
    let d0 = c + h0 * r0 + h1 * (5 * r9) + h2 * (5 * r8) + h3 * (5 * r7) + h4 * (5 * r6);
    c = d0 >>> 13;
    d0 &= 0x1fff;
    d0 += h5 * (5 * r5) + h6 * (5 * r4) + h7 * (5 * r3) + h8 * (5 * r2) + h9 * (5 * r1);
    c += d0 >>> 13;
    d0 &= 0x1fff;
    let d1 = c + h0 * r1 + h1 * r0 + h2 * (5 * r9) + h3 * (5 * r8) + h4 * (5 * r7);
    c = d1 >>> 13;
    d1 &= 0x1fff;
    d1 += h5 * (5 * r6) + h6 * (5 * r5) + h7 * (5 * r4) + h8 * (5 * r3) + h9 * (5 * r2);
    c += d1 >>> 13;
    d1 &= 0x1fff;
    let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * (5 * r9) + h4 * (5 * r8);
    c = d2 >>> 13;
    d2 &= 0x1fff;
    d2 += h5 * (5 * r7) + h6 * (5 * r6) + h7 * (5 * r5) + h8 * (5 * r4) + h9 * (5 * r3);
    c += d2 >>> 13;
    d2 &= 0x1fff;
    let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * (5 * r9);
    c = d3 >>> 13;
    d3 &= 0x1fff;
    d3 += h5 * (5 * r8) + h6 * (5 * r7) + h7 * (5 * r6) + h8 * (5 * r5) + h9 * (5 * r4);
    c += d3 >>> 13;
    d3 &= 0x1fff;
    let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
    c = d4 >>> 13;
    d4 &= 0x1fff;
    d4 += h5 * (5 * r9) + h6 * (5 * r8) + h7 * (5 * r7) + h8 * (5 * r6) + h9 * (5 * r5);
    c += d4 >>> 13;
    d4 &= 0x1fff;
    let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
    c = d5 >>> 13;
    d5 &= 0x1fff;
    d5 += h5 * r0 + h6 * (5 * r9) + h7 * (5 * r8) + h8 * (5 * r7) + h9 * (5 * r6);
    c += d5 >>> 13;
    d5 &= 0x1fff;
    let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
    c = d6 >>> 13;
    d6 &= 0x1fff;
    d6 += h5 * r1 + h6 * r0 + h7 * (5 * r9) + h8 * (5 * r8) + h9 * (5 * r7);
    c += d6 >>> 13;
    d6 &= 0x1fff;
    let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
    c = d7 >>> 13;
    d7 &= 0x1fff;
    d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * (5 * r9) + h9 * (5 * r8);
    c += d7 >>> 13;
    d7 &= 0x1fff;
    let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
    c = d8 >>> 13;
    d8 &= 0x1fff;
    d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * (5 * r9);
    c += d8 >>> 13;
    d8 &= 0x1fff;
    let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5;
    c = d9 >>> 13;
    d9 &= 0x1fff;
    d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
    c += d9 >>> 13;
    d9 &= 0x1fff;
    c = ((c << 2) + c) | 0;
    c = (c + d0) | 0;
    d0 = c & 0x1fff;
    c = c >>> 13;
    d1 += c;
    h0 = d0, h1 = d1, h2 = d2, h3 = d3, h4 = d4;
    h5 = d5, h6 = d6, h7 = d7, h8 = d8, h9 = d9;
  }
  h[0] = h0, h[1] = h1, h[2] = h2, h[3] = h3, h[4] = h4;
  h[5] = h5, h[6] = h6, h[7] = h7, h[8] = h8, h[9] = h9;
}

/** Absorbs the lengths block, finishes the MAC and writes the tag to `out[offset..+16)`. */
function polyFinish(adLength: number, textLength: number, out: Uint8Array, offset: number): void {
  const lengths = lastBlock;
  lengths.fill(0);
  writeLength(lengths, 0, adLength);
  writeLength(lengths, 8, textLength);
  polyBlocks(lengths, 0, 16);

  const h = polyH, pad = polyPad;
  let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4];
  let h5 = h[5], h6 = h[6], h7 = h[7], h8 = h[8], h9 = h[9];
  // Full carry of h.
  let c = h1 >>> 13;
  h1 &= 0x1fff;
  h2 += c, c = h2 >>> 13, h2 &= 0x1fff;
  h3 += c, c = h3 >>> 13, h3 &= 0x1fff;
  h4 += c, c = h4 >>> 13, h4 &= 0x1fff;
  h5 += c, c = h5 >>> 13, h5 &= 0x1fff;
  h6 += c, c = h6 >>> 13, h6 &= 0x1fff;
  h7 += c, c = h7 >>> 13, h7 &= 0x1fff;
  h8 += c, c = h8 >>> 13, h8 &= 0x1fff;
  h9 += c, c = h9 >>> 13, h9 &= 0x1fff;
  h0 += c * 5, c = h0 >>> 13, h0 &= 0x1fff;
  h1 += c, c = h1 >>> 13, h1 &= 0x1fff;
  h2 += c;
  // g = h + 5 - 2^130; take g when it does not go negative (h >= p).
  let g0 = h0 + 5;
  c = g0 >>> 13, g0 &= 0x1fff;
  let g1 = h1 + c;
  c = g1 >>> 13, g1 &= 0x1fff;
  let g2 = h2 + c;
  c = g2 >>> 13, g2 &= 0x1fff;
  let g3 = h3 + c;
  c = g3 >>> 13, g3 &= 0x1fff;
  let g4 = h4 + c;
  c = g4 >>> 13, g4 &= 0x1fff;
  let g5 = h5 + c;
  c = g5 >>> 13, g5 &= 0x1fff;
  let g6 = h6 + c;
  c = g6 >>> 13, g6 &= 0x1fff;
  let g7 = h7 + c;
  c = g7 >>> 13, g7 &= 0x1fff;
  let g8 = h8 + c;
  c = g8 >>> 13, g8 &= 0x1fff;
  let g9 = h9 + c;
  c = g9 >>> 13, g9 &= 0x1fff; // the carry out of g is 1 exactly when h >= p
  const keepG = -c & 0xffff;
  const keepH = ~keepG & 0xffff;
  h0 = (h0 & keepH) | (g0 & keepG), h1 = (h1 & keepH) | (g1 & keepG);
  h2 = (h2 & keepH) | (g2 & keepG), h3 = (h3 & keepH) | (g3 & keepG);
  h4 = (h4 & keepH) | (g4 & keepG), h5 = (h5 & keepH) | (g5 & keepG);
  h6 = (h6 & keepH) | (g6 & keepG), h7 = (h7 & keepH) | (g7 & keepG);
  h8 = (h8 & keepH) | (g8 & keepG), h9 = (h9 & keepH) | (g9 & keepG);
  // Repack into 16-bit words, add s mod 2^128.
  const w0 = (h0 | (h1 << 13)) & 0xffff;
  const w1 = ((h1 >>> 3) | (h2 << 10)) & 0xffff;
  const w2 = ((h2 >>> 6) | (h3 << 7)) & 0xffff;
  const w3 = ((h3 >>> 9) | (h4 << 4)) & 0xffff;
  const w4 = ((h4 >>> 12) | (h5 << 1) | (h6 << 14)) & 0xffff;
  const w5 = ((h6 >>> 2) | (h7 << 11)) & 0xffff;
  const w6 = ((h7 >>> 5) | (h8 << 8)) & 0xffff;
  const w7 = ((h8 >>> 8) | (h9 << 5)) & 0xffff;
  let f = w0 + pad[0];
  out[offset] = f, out[offset + 1] = f >>> 8;
  f = w1 + pad[1] + (f >>> 16), out[offset + 2] = f, out[offset + 3] = f >>> 8;
  f = w2 + pad[2] + (f >>> 16), out[offset + 4] = f, out[offset + 5] = f >>> 8;
  f = w3 + pad[3] + (f >>> 16), out[offset + 6] = f, out[offset + 7] = f >>> 8;
  f = w4 + pad[4] + (f >>> 16), out[offset + 8] = f, out[offset + 9] = f >>> 8;
  f = w5 + pad[5] + (f >>> 16), out[offset + 10] = f, out[offset + 11] = f >>> 8;
  f = w6 + pad[6] + (f >>> 16), out[offset + 12] = f, out[offset + 13] = f >>> 8;
  f = w7 + pad[7] + (f >>> 16), out[offset + 14] = f, out[offset + 15] = f >>> 8;
}

function writeLength(out: Uint8Array, offset: number, length: number): void {
  // Lengths here are below 2^32 (Noise messages are at most 65535 bytes).
  out[offset] = length, out[offset + 1] = length >>> 8;
  out[offset + 2] = length >>> 16, out[offset + 3] = length >>> 24;
}

/** Loads the key words and the nonce; sets up Poly1305 with the key from block 0. */
function begin(key: Uint8Array, nonce: bigint): void {
  for (let i = 0, j = 0; i < 8; i++, j += 4) {
    keyWords[i] = key[j] | (key[j + 1] << 8) | (key[j + 2] << 16) | (key[j + 3] << 24);
  }
  nonceView.setBigUint64(0, nonce, true);
  chachaBlock(0, nonceView.getUint32(0, true), nonceView.getUint32(4, true));
  polyInit();
}

/** Wipes every scratch buffer that held key material. */
function wipe(): void {
  keyWords.fill(0);
  stream.fill(0);
  polyR.fill(0);
  polyH.fill(0);
  polyPad.fill(0);
  lastBlock.fill(0);
  tagScratch.fill(0);
}

/**
 * ENCRYPT(k, n, ad, plaintext) with the Noise nonce layout (4 zero bytes,
 * then n as u64 LE): returns ciphertext || 16-byte tag.
 */
export function sealChaChaPoly(
  key: Uint8Array,
  nonce: bigint,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + TAG_LENGTH);
  out.set(plaintext);
  sealChaChaPolyInPlace(key, nonce, ad, out, 0, plaintext.length);
  return out;
}

/**
 * ENCRYPT in place: `buf[at..at+length)` (the plaintext) becomes the
 * ciphertext and the tag is written to `buf[at+length..+16)`. No allocation:
 * the caller seals straight into the buffer it writes out.
 */
export function sealChaChaPolyInPlace(
  key: Uint8Array,
  nonce: bigint,
  ad: Uint8Array,
  buf: Uint8Array,
  at: number,
  length: number,
): void {
  if (at < 0 || at + length + TAG_LENGTH > buf.length) {
    throw new RangeError("no room for the ciphertext and its tag");
  }
  try {
    begin(key, nonce);
    const lo = nonceView.getUint32(0, true), hi = nonceView.getUint32(4, true);
    chachaXor(lo, hi, buf, at, buf, at, length);
    if (ad.length > 0) polyUpdate(ad, 0, ad.length);
    polyUpdate(buf, at, length);
    polyFinish(ad.length, length, buf, at + length);
  } finally {
    wipe();
  }
}

/**
 * DECRYPT(k, n, ad, ciphertext): returns the plaintext, or throws
 * `NoiseError("decrypt-failed")` without decrypting anything.
 */
export function openChaChaPoly(
  key: Uint8Array,
  nonce: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  return openChaChaPolyInto(key, nonce, ad, ciphertext, new Uint8Array(ciphertextBody(ciphertext)));
}

/**
 * DECRYPT in place: the plaintext overwrites the start of `ciphertext` and
 * is returned as a view of it. On authentication failure it throws
 * `NoiseError("decrypt-failed")` and `ciphertext` is left as it was (the
 * tag is checked before anything is decrypted).
 */
export function openChaChaPolyInPlace(
  key: Uint8Array,
  nonce: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  const length = ciphertextBody(ciphertext);
  openChaChaPolyInto(key, nonce, ad, ciphertext, ciphertext);
  return ciphertext.subarray(0, length);
}

function ciphertextBody(ciphertext: Uint8Array): number {
  const length = ciphertext.length - TAG_LENGTH;
  if (length < 0) throw new NoiseError("decrypt-failed", "ciphertext shorter than its tag");
  return length;
}

/** Checks the tag of `ciphertext`, then decrypts its body into `out[0..)`; returns `out`. */
function openChaChaPolyInto(
  key: Uint8Array,
  nonce: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array,
  out: Uint8Array,
): Uint8Array {
  const length = ciphertext.length - TAG_LENGTH;
  try {
    begin(key, nonce);
    if (ad.length > 0) polyUpdate(ad, 0, ad.length);
    polyUpdate(ciphertext, 0, length);
    polyFinish(ad.length, length, tagScratch, 0);
    let diff = 0;
    for (let i = 0; i < TAG_LENGTH; i++) diff |= tagScratch[i] ^ ciphertext[length + i];
    if (diff !== 0) throw new NoiseError("decrypt-failed", "authentication failed");
    const lo = nonceView.getUint32(0, true), hi = nonceView.getUint32(4, true);
    chachaXor(lo, hi, ciphertext, 0, out, 0, length);
    return out;
  } finally {
    wipe();
  }
}
