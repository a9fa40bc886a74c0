/**
 * HMAC (RFC 2104) over any Noise hash, as Noise §4.3 defines it: the key is
 * padded with zeros to the hash's block size (hashed first if longer).
 *
 * @module
 */

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
