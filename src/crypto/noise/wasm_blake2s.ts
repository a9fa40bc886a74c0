/**
 * BLAKE2s-256, HMAC-BLAKE2s and the Noise HKDF over it in WebAssembly
 * (wasm/blake2s.wat, built into `blake2s_wasm.ts`), compiled and instantiated
 * once per isolate when this file is imported. A call copies its inputs into
 * the module's memory, makes one call into WebAssembly and copies the result
 * out: an HKDF (two or three HMACs, 8-12 compressions) is one call, where the
 * TypeScript path (`blake2s.ts` under `hmac.ts`) made six to nine digests
 * and filled every block byte by byte; the module compresses whole blocks
 * where they lie. It zeroes its state, pads, key and input at the end of
 * every call; this side zeroes the result area.
 *
 * Inputs over {@link WASM_HASH_LIMIT} bytes are the caller's to route
 * elsewhere (`native.ts` sends them to OpenSSL).
 *
 * @module
 */

import { BLAKE2S_WASM } from "./blake2s_wasm.ts";
import { instantiateEmbedded } from "../wasm_instance.ts";

interface Blake2sExports {
  readonly memory: WebAssembly.Memory;
  hash(length: number): void;
  hmac(length: number): void;
  hkdf(length: number, outputs: number): void;
}

/** Module layout (see the .wat). */
const OUT_AT = 512;
const KEY_AT = 640;
const DATA_AT = 1024;
const PAGE = 65536;

/** The most input bytes (all parts) one call takes: the module's one page past DATA. */
export const WASM_HASH_LIMIT = PAGE - DATA_AT;

const module = instantiateEmbedded<Blake2sExports>(BLAKE2S_WASM);
// The module never grows its memory, so this view stays attached.
const memory = new Uint8Array(module.memory.buffer);

/** Copies `parts` to DATA; their total length. */
function put(parts: readonly Uint8Array[]): number {
  let at = DATA_AT;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    memory.set(part, at);
    at += part.length;
  }
  return at - DATA_AT;
}

/** The `length` result bytes at OUT, copied out; OUT zeroed. */
function take(at: number, length: number): Uint8Array {
  const out = memory.slice(at, at + length);
  memory.fill(0, at, at + length);
  return out;
}

/** BLAKE2s-256 of the concatenation of `parts` (at most {@link WASM_HASH_LIMIT} bytes). */
export function blake2sWasm(parts: readonly Uint8Array[]): Uint8Array {
  module.hash(put(parts));
  return take(OUT_AT, 32);
}

/**
 * HMAC-BLAKE2s(key, parts[0] || parts[1] || ...): `key` at most 64 bytes
 * (the block size; a longer key is hashed first by the caller), the parts at
 * most {@link WASM_HASH_LIMIT} bytes.
 */
export function hmacBlake2sWasm(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  memory.set(key, KEY_AT); // into zeroes: the module zero-pads keys to the block
  module.hmac(put(parts));
  return take(OUT_AT, 32);
}

/**
 * HKDF(chaining_key, input_key_material, numOutputs) of Noise §4.3 over
 * HMAC-BLAKE2s: `chainingKey` 32 bytes, `inputKeyMaterial` at most
 * {@link WASM_HASH_LIMIT} bytes.
 */
export function hkdfBlake2sWasm(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  numOutputs: 2 | 3,
): Uint8Array[] {
  memory.set(chainingKey, KEY_AT);
  memory.set(inputKeyMaterial, DATA_AT);
  module.hkdf(inputKeyMaterial.length, numOutputs);
  // One copy for all outputs (one buffer, views on it): a copy per output cost more.
  const out = take(OUT_AT, 32 * numOutputs);
  const out1 = out.subarray(0, 32);
  const out2 = out.subarray(32, 64);
  return numOutputs === 2 ? [out1, out2] : [out1, out2, out.subarray(64, 96)];
}
