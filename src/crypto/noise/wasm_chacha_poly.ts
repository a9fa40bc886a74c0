/**
 * ChaCha20-Poly1305 (RFC 8439, Noise nonce layout) in WebAssembly: the
 * transport AEAD of every session. The module (wasm/chacha_poly.wat, built
 * into `chacha_poly_wasm.ts`) is compiled and instantiated once per isolate
 * when this file is imported; a call costs the copy of the key, the ad and
 * the message into its memory and of the result back, and one call into
 * WebAssembly: no object is created except the output of the copying API
 * and, for the copy in, a view of the caller's message (none for a message
 * already in place, see {@link aeadArea}).
 *
 * ChaCha20 runs four blocks per pass in SIMD lanes, so a message up to
 * 192 bytes takes one pass for its Poly1305 key and its key stream;
 * Poly1305 uses 26-bit limbs in 64-bit arithmetic. Both are branch-free on
 * secret data; `open` checks the tag before it decrypts anything, and the
 * module zeroes the key, key stream and tags at the end of every call.
 *
 * @module
 */

import { CHACHA_POLY_WASM } from "./chacha_poly_wasm.ts";
import { NoiseError } from "./errors.ts";
import { type Cipher, type Nonce, nonceHigh, nonceLow, TAG_LENGTH } from "./primitives.ts";
import { instantiateEmbedded } from "../wasm_instance.ts";

interface AeadExports {
  readonly memory: WebAssembly.Memory;
  seal(adLength: number, length: number, nonceLow: number, nonceHigh: number): void;
  open(adLength: number, length: number, nonceLow: number, nonceHigh: number): number;
}

/** Where the key goes (module layout, see the .wat). */
const KEY_AT = 0;
/** Where the ad goes; the message follows at the next multiple of 16. */
const DATA_AT = 512;
const PAGE = 65536;

const aead = instantiateEmbedded<AeadExports>(CHACHA_POLY_WASM);
let memory = new Uint8Array(aead.memory.buffer);

/**
 * Views of the message area of a transport message (empty ad, so at
 * {@link DATA_AT}), or of a unit written there (its length prefix up to 3
 * bytes before it), by their start and length, each made on first use: the
 * copy of a result out needs a view of exactly its length, and a new view per
 * call was ~0.5k instructions and ~0.1 KiB of garbage (two per sealed
 * message, one per opened one, one per unit written from the area). Lengths
 * are bounded by the module's message range: at most ~4k views per start
 * (~0.3 MiB), a handful in practice; dropped when the memory grows (its old
 * views are detached).
 */
let areaViews: (Uint8Array | undefined)[][] = [[], [], [], []];
/** Longest view kept in {@link areaViews}: the messages the module is used for, and their tag. */
const AREA_VIEW_LIMIT = 4096 + TAG_LENGTH;

/** `memory[at..at+length)`: a kept view for the message area, else a new one. */
function memoryView(at: number, length: number): Uint8Array {
  const before = DATA_AT - at;
  if (before < 0 || before > 3 || length > AREA_VIEW_LIMIT + before) {
    return memory.subarray(at, at + length);
  }
  return areaViews[before][length] ??= memory.subarray(at, at + length);
}

/**
 * `area[from..to)` of the array {@link aeadArea} returned (kept views near
 * {@link AEAD_AREA_AT}, see {@link areaViews}); the same validity as the area's.
 */
export function aeadAreaView(from: number, to: number): Uint8Array {
  return memoryView(from, to - from);
}

/**
 * The module's memory, with room for a transport message (empty ad) of
 * `length` bytes at {@link AEAD_AREA_AT}: a message written there is sealed
 * by {@link sealWasm} (`buf` this array, `at` {@link AEAD_AREA_AT}) without
 * a copy in or out. Valid until the next call that may grow the memory (any
 * seal or open): write, seal and hand the result over (to something that
 * copies it) synchronously, and never keep the array. Bytes before
 * {@link AEAD_AREA_AT} are the module's scratch (a call zeroes them), so
 * anything written there must be written after the seal.
 */
export function aeadArea(length: number): Uint8Array {
  reserve(DATA_AT + ((length + 15) & ~15) + TAG_LENGTH);
  return memory;
}

/** Where {@link aeadArea}'s message goes (after an empty ad). */
export const AEAD_AREA_AT = DATA_AT;

/** Grows the memory to at least `end` bytes (rare: two pages hold any Noise message). */
function reserve(end: number): void {
  if (end > memory.length) {
    aead.memory.grow(Math.ceil((end - memory.length) / PAGE));
    memory = new Uint8Array(aead.memory.buffer);
    areaViews = [[], [], [], []];
  }
}

/** Offset of the message for `adLength` bytes of ad. */
function messageAt(adLength: number): number {
  return DATA_AT + ((adLength + 15) & ~15);
}

/**
 * Copies the key and the ad in, making room first for a message of
 * `length` bytes plus its padding and tag (rare: two pages hold any Noise
 * message). Returns the message's offset.
 */
function load(key: Uint8Array, keyAt: number, ad: Uint8Array, length: number): number {
  const at = messageAt(ad.length);
  reserve(at + ((length + 15) & ~15) + TAG_LENGTH);
  if (keyAt === 0 && key.length === 32) memory.set(key, KEY_AT);
  else for (let i = 0; i < 32; i++) memory[KEY_AT + i] = key[keyAt + i]; // no view to allocate
  if (ad.length > 0) memory.set(ad, DATA_AT);
  return at;
}

/**
 * ENCRYPT in place: `buf[at..at+length)` becomes the ciphertext and the
 * 16-byte tag is written after it.
 */
export function sealWasm(
  key: Uint8Array,
  nonce: Nonce,
  ad: Uint8Array,
  buf: Uint8Array,
  at: number,
  length: number,
  keyAt = 0,
): void {
  if (at < 0 || at + length + TAG_LENGTH > buf.length) {
    throw new RangeError("no room for the ciphertext and its tag");
  }
  // (The memory may grow in load: compare with the array `buf` was given as.)
  const inPlace = buf === memory && at === messageAt(ad.length);
  const m = load(key, keyAt, ad, length);
  if (!inPlace) {
    memory.set(at === 0 && length === buf.length ? buf : buf.subarray(at, at + length), m);
  }
  aead.seal(ad.length, length, nonceLow(nonce), nonceHigh(nonce));
  if (!inPlace) buf.set(memoryView(m, length + TAG_LENGTH), at);
}

/**
 * DECRYPT into `out[0..)` (which may be `ciphertext` itself): throws
 * `NoiseError("decrypt-failed")` and writes nothing unless the tag is right.
 */
export function openWasm(
  key: Uint8Array,
  nonce: Nonce,
  ad: Uint8Array,
  ciphertext: Uint8Array,
  out: Uint8Array,
  keyAt = 0,
): void {
  const length = ciphertext.length - TAG_LENGTH;
  if (length < 0) throw new NoiseError("decrypt-failed", "ciphertext shorter than its tag");
  const m = load(key, keyAt, ad, length);
  memory.set(ciphertext, m);
  if (aead.open(ad.length, length, nonceLow(nonce), nonceHigh(nonce)) !== 1) {
    throw new NoiseError("decrypt-failed", "authentication failed");
  }
  out.set(memoryView(m, length));
}

/** ChaCha20-Poly1305 on the WebAssembly module, at every message size. */
export const wasmChaChaPoly: Cipher = {
  name: "ChaChaPoly",
  encrypt(key, nonce, ad, plaintext, keyAt = 0): Uint8Array {
    const out = new Uint8Array(plaintext.length + TAG_LENGTH);
    out.set(plaintext);
    sealWasm(key, nonce, ad, out, 0, plaintext.length, keyAt);
    return out;
  },
  decrypt(key, nonce, ad, ciphertext, keyAt = 0): Uint8Array {
    const out = new Uint8Array(Math.max(0, ciphertext.length - TAG_LENGTH));
    openWasm(key, nonce, ad, ciphertext, out, keyAt);
    return out;
  },
  encryptInPlace: sealWasm,
  decryptInPlace(key, nonce, ad, ciphertext, keyAt = 0): Uint8Array {
    openWasm(key, nonce, ad, ciphertext, ciphertext, keyAt);
    return ciphertext.subarray(0, ciphertext.length - TAG_LENGTH);
  },
  openInPlace(key, nonce, ad, ciphertext, keyAt = 0): number {
    openWasm(key, nonce, ad, ciphertext, ciphertext, keyAt);
    return ciphertext.length - TAG_LENGTH;
  },
};
