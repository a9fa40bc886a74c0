/**
 * The ZKP equation `s·B == R + c·A` on noble's BigInt arithmetic: the
 * reference that the WebAssembly verifier (`zkp_wasm.ts`) is tested against,
 * directly and in the half-scalar form both use. Variable time: public data
 * only.
 *
 * @module
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { ED25519_ORDER, HALF_BITS, HALF_LIMIT, halfScalars, nafDigits } from "./zkp_scalars.ts";

const Point = ed25519.Point;

/** An edwards25519 point (noble). */
export type EdPoint = InstanceType<typeof Point>;

/** `s·B == R + c·A`, directly: the reference the halved form must agree with (exported for tests). */
export function plainEquationHolds(s: bigint, c: bigint, A: EdPoint, R: EdPoint): boolean {
  // Verification handles public data only, so variable-time multiplication is fine.
  return Point.BASE.multiplyUnsafe(s).equals(R.add(A.multiplyUnsafe(c)));
}

/**
 * The same equation with half-length scalars (Antipa et al., Pornin 2020): with
 * u ≡ v·c (mod N), v odd and 0 < |v| < ℓ, multiplication by v is a bijection of
 * the curve group, so `X = s·B − R − c·A` is zero exactly when
 * `v·X = (v·s mod ℓ)·B − v·R − u·A` is. That sum is one interleaved walk of
 * ~128 doublings (`halfWalk`): v·s is split in 128-bit halves on B and on
 * 2^128·B (fixed tables), |v| and u act on ±R and −A. Exact, cofactor and
 * torsion included. `null` when no suitable (u, v) was found (then the caller
 * uses {@link plainEquationHolds}). Exported for tests.
 */
export function halvedEquationHolds(s: bigint, c: bigint, A: EdPoint, R: EdPoint): boolean | null {
  const pair = halfScalars(c);
  if (pair === null) return null;
  const [u, v] = pair;
  const vs = ((v * s) % ED25519_ORDER + ED25519_ORDER) % ED25519_ORDER;
  // −v·R = |v|·R when v < 0, else |v|·(−R).
  return halfWalk(vs, v < 0n ? -v : v, v < 0n ? R : R.negate(), u, A.negate()).is0();
}

/** Width of the signed digits on the fixed points B and 2^128·B (tables of 64 points each). */
const FIXED_WIDTH = 8;
/** Width on the proof's own points R and A (tables of 4: built per proof). */
const POINT_WIDTH = 4;
let fixedTables: [EdPoint[], EdPoint[]] | null = null;

/** [1P, 3P, …, (2^(w−1) − 1)P]. */
function oddMultiples(p: EdPoint, width: number): EdPoint[] {
  const twice = p.double();
  const table = [p];
  for (let j = 1; j < 1 << (width - 2); j++) table.push(table[j - 1].add(twice));
  return table;
}

/**
 * `vs·B + a·P + b·Q` with `vs < 2^256`, `a, b < 2^136`: one shared doubling
 * chain over the wNAF digits of vs's two 128-bit halves (on B and 2^128·B,
 * tables built once) and of a and b (variable time: public data only).
 */
function halfWalk(vs: bigint, a: bigint, P: EdPoint, b: bigint, Q: EdPoint): EdPoint {
  fixedTables ??= [
    oddMultiples(Point.BASE, FIXED_WIDTH),
    oddMultiples(Point.BASE.multiplyUnsafe(HALF_LIMIT), FIXED_WIDTH),
  ];
  const tables = [
    fixedTables[0],
    fixedTables[1],
    oddMultiples(P, POINT_WIDTH),
    oddMultiples(Q, POINT_WIDTH),
  ];
  const digits = [
    nafDigits(vs & (HALF_LIMIT - 1n), FIXED_WIDTH),
    nafDigits(vs >> HALF_BITS, FIXED_WIDTH),
    nafDigits(a, POINT_WIDTH),
    nafDigits(b, POINT_WIDTH),
  ];
  let top = 0;
  for (const d of digits) top = Math.max(top, d.length);
  let acc = Point.ZERO;
  for (let bit = top - 1; bit >= 0; bit--) {
    acc = acc.double();
    for (let i = 0; i < 4; i++) {
      const d = bit < digits[i].length ? digits[i][bit] : 0;
      if (d === 0) continue;
      const item = tables[i][(Math.abs(d) - 1) >> 1];
      acc = acc.add(d < 0 ? item.negate() : item);
    }
  }
  return acc;
}
