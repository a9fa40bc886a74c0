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
 * This file composes the AEAD; the ChaCha20 core is `chacha20.ts` and
 * Poly1305 is `poly1305.ts`.
 *
 * @module
 */

import { chachaBlock, chachaStream, chachaXor, loadChaChaKey, wipeChaCha } from "./chacha20.ts";
import { NoiseError } from "./errors.ts";
import { polyFinish, polyInit, polyUpdate, wipePoly } from "./poly1305.ts";
import { TAG_LENGTH } from "./primitives.ts";

/** The 64-bit Noise nonce as two little-endian words. */
const nonceBytes = new Uint8Array(8);
const nonceView = new DataView(nonceBytes.buffer);
/** The computed tag on open, compared with the received one. */
const tagScratch = new Uint8Array(16);

/** The nonce's low and high words, set by {@link begin}. */
let nonceLo = 0, nonceHi = 0;

/** Loads the key words and the nonce; sets up Poly1305 with the key from block 0. */
function begin(key: Uint8Array, nonce: bigint): void {
  loadChaChaKey(key);
  nonceView.setBigUint64(0, nonce, true);
  nonceLo = nonceView.getUint32(0, true), nonceHi = nonceView.getUint32(4, true);
  chachaBlock(0, nonceLo, nonceHi);
  polyInit(chachaStream);
}

/** Wipes every scratch buffer that held key material. */
function wipe(): void {
  wipeChaCha();
  wipePoly();
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
    chachaXor(nonceLo, nonceHi, buf, at, buf, at, length);
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
    chachaXor(nonceLo, nonceHi, ciphertext, 0, out, 0, length);
    return out;
  } finally {
    wipe();
  }
}
