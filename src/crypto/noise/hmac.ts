/**
 * HMAC (RFC 2104) over any Noise hash, as Noise §4.3 defines it: the key is
 * padded with zeros to the hash's block size (hashed first if longer); and
 * the HKDF of §4.3 over an HMAC.
 *
 * @module
 */

import type { Hash } from "./primitives.ts";

const ONE = new Uint8Array([1]);
const TWO = new Uint8Array([2]);
const THREE = new Uint8Array([3]);

/**
 * HKDF(chaining_key, input_key_material, num_outputs) from Noise §4.3 on
 * `hash.hmac`: two or three HASHLEN-byte outputs.
 */
export function hkdfFromHmac(
  hash: Pick<Hash, "hmac">,
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  numOutputs: 2 | 3,
): Uint8Array[] {
  const tempKey = hash.hmac(chainingKey, inputKeyMaterial);
  const out1 = hash.hmac(tempKey, ONE);
  const out2 = hash.hmac(tempKey, out1, TWO);
  if (numOutputs === 2) {
    tempKey.fill(0);
    return [out1, out2];
  }
  const out3 = hash.hmac(tempKey, out2, THREE);
  tempKey.fill(0);
  return [out1, out2, out3];
}

/**
 * HMAC-HASH(key, parts[0] || parts[1] || ...) built only from `digest`.
 * `blockLen` is the hash's internal block size (64 for BLAKE2s and SHA-256).
 */
export function hmacFromDigest(
  digest: (...parts: Uint8Array[]) => Uint8Array,
  blockLen: number,
  key: Uint8Array,
  parts: readonly Uint8Array[],
): Uint8Array {
  const k = key.length > blockLen ? digest(key) : key;
  // Scratch pads per block size: `digest` is synchronous and never calls back
  // in here, and they are wiped before returning (12 HMACs per handshake).
  const { ipad, opad } = padsFor(blockLen);
  ipad.fill(0x36);
  opad.fill(0x5c);
  for (let i = 0; i < k.length; i++) {
    ipad[i] ^= k[i];
    opad[i] ^= k[i];
  }
  try {
    const inner = digest(ipad, ...parts);
    const out = digest(opad, inner);
    inner.fill(0);
    return out;
  } finally {
    // The pads are the key in disguise.
    ipad.fill(0);
    opad.fill(0);
  }
}

const pads = new Map<number, { ipad: Uint8Array; opad: Uint8Array }>();

function padsFor(blockLen: number): { ipad: Uint8Array; opad: Uint8Array } {
  let p = pads.get(blockLen);
  if (p === undefined) {
    p = { ipad: new Uint8Array(blockLen), opad: new Uint8Array(blockLen) };
    pads.set(blockLen, p);
  }
  return p;
}
