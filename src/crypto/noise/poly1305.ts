/**
 * Poly1305 (RFC 8439 §2.5) as the ChaCha20-Poly1305 AEAD feeds it (§2.8):
 * each input zero-padded to 16 bytes, then the lengths block. For
 * `chacha_poly.ts`: the state lives in module scratch buffers, so a call
 * creates no object, and inputs are read in place (no concatenation of the
 * associated data and the ciphertext). The caller clears the state with
 * {@link wipePoly} when the message is done.
 *
 * 13-bit limbs (poly1305-donna-16, as in @noble/ciphers), and the final
 * reduction selects with masks: branch-free on secret data.
 *
 * @module
 */

/**
 * Poly1305 state in one buffer, so one fill wipes it: r (clamped, 13-bit
 * limbs), h (accumulator), pad (s, 16-bit words), and a 16-byte block (a
 * zero-padded final block of the AD or the ciphertext, or the lengths block).
 */
const state = new ArrayBuffer(72);
const polyR = new Uint16Array(state, 0, 10);
const polyH = new Uint16Array(state, 20, 10);
const polyPad = new Uint16Array(state, 40, 8);
const lastBlock = new Uint8Array(state, 56, 16);
const stateBytes = new Uint8Array(state);

/** Wipes the Poly1305 state. */
export function wipePoly(): void {
  stateBytes.fill(0);
}

function u16(data: Uint8Array, i: number): number {
  return data[i] | (data[i + 1] << 8);
}

/**
 * Sets up Poly1305 with the one-time key given as 8 little-endian words
 * `key[0..8)` (the first half of ChaCha20 block 0, read where it was made).
 */
export function polyInit(key: Uint32Array): void {
  const t0 = key[0] & 0xffff, t1 = key[0] >>> 16, t2 = key[1] & 0xffff, t3 = key[1] >>> 16;
  const t4 = key[2] & 0xffff, t5 = key[2] >>> 16, t6 = key[3] & 0xffff, t7 = key[3] >>> 16;
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
  for (let i = 0; i < 4; i++) {
    polyPad[2 * i] = key[4 + i] & 0xffff, polyPad[2 * i + 1] = key[4 + i] >>> 16;
  }
  polyH.fill(0);
}

/**
 * Absorbs `data[at..at+length)` as 16-byte blocks, the last one zero-padded
 * (the AEAD's pad16: every block counts as full, high bit set).
 */
export function polyUpdate(data: Uint8Array, at: number, length: number): void {
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
  // 2^130 = 5 mod p: the products that wrap past limb 9 use 5r, computed once.
  const s1 = 5 * r1, s2 = 5 * r2, s3 = 5 * r3, s4 = 5 * r4, s5 = 5 * r5;
  const s6 = 5 * r6, s7 = 5 * r7, s8 = 5 * r8, s9 = 5 * r9;
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
    let d0 = c + h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6;
    c = d0 >>> 13;
    d0 &= 0x1fff;
    d0 += h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1;
    c += d0 >>> 13;
    d0 &= 0x1fff;
    let d1 = c + h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7;
    c = d1 >>> 13;
    d1 &= 0x1fff;
    d1 += h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2;
    c += d1 >>> 13;
    d1 &= 0x1fff;
    let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8;
    c = d2 >>> 13;
    d2 &= 0x1fff;
    d2 += h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3;
    c += d2 >>> 13;
    d2 &= 0x1fff;
    let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9;
    c = d3 >>> 13;
    d3 &= 0x1fff;
    d3 += h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4;
    c += d3 >>> 13;
    d3 &= 0x1fff;
    let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
    c = d4 >>> 13;
    d4 &= 0x1fff;
    d4 += h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5;
    c += d4 >>> 13;
    d4 &= 0x1fff;
    let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
    c = d5 >>> 13;
    d5 &= 0x1fff;
    d5 += h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6;
    c += d5 >>> 13;
    d5 &= 0x1fff;
    let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
    c = d6 >>> 13;
    d6 &= 0x1fff;
    d6 += h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7;
    c += d6 >>> 13;
    d6 &= 0x1fff;
    let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
    c = d7 >>> 13;
    d7 &= 0x1fff;
    d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8;
    c += d7 >>> 13;
    d7 &= 0x1fff;
    let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
    c = d8 >>> 13;
    d8 &= 0x1fff;
    d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9;
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
export function polyFinish(
  adLength: number,
  textLength: number,
  out: Uint8Array,
  offset: number,
): void {
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
