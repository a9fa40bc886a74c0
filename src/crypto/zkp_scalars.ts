/**
 * Scalar work shared by the ZKP verifiers (the WebAssembly one in
 * `zkp_wasm.ts` and the noble reference in `zkp_reference.ts`): the order ℓ,
 * the half-size scalar pair and width-w NAF recoding. Public data only.
 *
 * @module
 */

import { ed25519 } from "@noble/curves/ed25519.js";

/** The prime order ℓ of the edwards25519 base point. */
export const ED25519_ORDER: bigint = ed25519.Point.Fn.ORDER;

/**
 * Every point of edwards25519 (order 8ℓ, any torsion included) is killed by N = 8ℓ, so
 * scalars acting on A and R may be taken mod N; B has order ℓ.
 */
const GROUP_EXPONENT: bigint = 8n * ED25519_ORDER;
/** Half-size scalars stop here (√N ≈ 2^127.5); anything much larger falls back. */
export const HALF_BITS = 128n;
/** 2^128. */
export const HALF_LIMIT: bigint = 1n << HALF_BITS;
const FALLBACK_LIMIT = 1n << 136n;

/**
 * Width-w NAF digits of `n ≥ 0`, least significant first (0 or odd, |d| < 2^(w−1)),
 * recoded on the bits in numbers: one BigInt operation per scalar, not one per bit.
 */
export function nafDigits(n: bigint, width: number): Int16Array {
  const binary = n.toString(2);
  const length = binary.length;
  const bits = new Uint8Array(length + width + 1);
  for (let j = 0; j < length; j++) bits[j] = binary.charCodeAt(length - 1 - j) - 48;
  const digits = new Int16Array(length + 1);
  const size = 1 << width;
  for (let i = 0; i <= length;) {
    if (bits[i] === 0) {
      i++;
      continue;
    }
    let d = 0;
    for (let k = 0; k < width; k++) {
      d |= bits[i + k] << k;
      bits[i + k] = 0;
    }
    if (d >= size >> 1) {
      // n − d with d < 0 adds 2^w at bit i: carry it up.
      d -= size;
      let j = i + width;
      while (bits[j] === 1) bits[j++] = 0;
      bits[j] = 1;
    }
    digits[i] = d;
    i += width;
  }
  return digits;
}

/**
 * (u, v) with u ≡ v·c (mod N), u > 0, v odd, both below 2^136 (typically 2^128),
 * by the half extended Euclidean algorithm on (N, c); `null` if none.
 */
export function halfScalars(c: bigint): [bigint, bigint] | null {
  // Invariant: r_i ≡ t_i·c (mod N). Stop at the first remainder below 2^128.
  let r0 = GROUP_EXPONENT, r1 = c % GROUP_EXPONENT;
  let t0 = 0n, t1 = 1n;
  while (r1 >= HALF_LIMIT) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  // Consecutive t are coprime, so t1 or the next one is odd.
  if (r1 === 0n) return null;
  const candidates: [bigint, bigint][] = [[r1, t1]];
  const q = r0 / r1;
  candidates.push([r0 - q * r1, t0 - q * t1]);
  for (const [u, v] of candidates) {
    const size = v < 0n ? -v : v;
    if ((v & 1n) === 1n && u > 0n && u < FALLBACK_LIMIT && size < FALLBACK_LIMIT) return [u, v];
  }
  return null;
}
