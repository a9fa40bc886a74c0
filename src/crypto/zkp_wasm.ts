/**
 * The device-key ZKP equation `s·B == R + c·A` in WebAssembly
 * (wasm/ed25519_verify.wat, built into `zkp_wasm_module.ts`): decoding of A
 * and R (canonical, on the curve), the small-order test and one interleaved
 * double-and-add walk run in the module; the scalar recoding stays here in
 * BigInt (a few µs). Same result as the noble reference (`zkp_reference.ts`)
 * on every input, which `zkp_wasm_test.ts` checks differentially.
 *
 * Variable time throughout: a verifier sees only public data.
 *
 * @module
 */

import { fromHex } from "./bytes.ts";
import { ED25519_ORDER, HALF_BITS, HALF_LIMIT, halfScalars, nafDigits } from "./zkp_scalars.ts";
import { ED25519_VERIFY_WASM } from "./zkp_wasm_module.ts";
import { instantiateEmbedded } from "./wasm_instance.ts";

interface VerifyExports {
  readonly memory: WebAssembly.Memory;
  init(): number;
  load(): number;
  walk(top: number): number;
}

// Module layout (see the .wat).
const IN_A = 0;
const IN_R = 64;
const IN_B = 128;
const IN_B128 = 192;
const DIGITS = 256;
const DIGIT_SLOT = 288;
/** Encodings of the base point B and of 2^128·B (checked against noble by the tests). */
export const BASE_POINT_HEX = "5866666666666666666666666666666666666666666666666666666666666666";
/** 2^128·B: constant, so that the first verify does not wait ~35 ms for noble's base tables. */
export const BASE_POINT_2_128_HEX =
  "6ba6f54b11bdba5b9ec4a4511ebed0903a9cc226b61ef1957dc86d52e6992c5f";
/** Digit widths: the module's tables hold 64 odd multiples of B and 2^128·B, 4 of R and A. */
const FIXED_WIDTH = 8;
const POINT_WIDTH = 4;

/** One instance with its fixed tables, built on first use (~5 ms: compile and 128 additions). */
class Engine {
  readonly #exports: VerifyExports;
  readonly #bytes: Uint8Array;
  readonly #digits: Int8Array;

  constructor() {
    this.#exports = instantiateEmbedded<VerifyExports>(ED25519_VERIFY_WASM);
    this.#bytes = new Uint8Array(this.#exports.memory.buffer);
    this.#digits = new Int8Array(this.#exports.memory.buffer, DIGITS, 4 * DIGIT_SLOT);
    this.#bytes.set(fromHex(BASE_POINT_HEX, 32), IN_B);
    this.#bytes.set(fromHex(BASE_POINT_2_128_HEX, 32), IN_B128);
    if (this.#exports.init() !== 1) throw new Error("ed25519 module: base point rejected");
  }

  /** Copies A and R in; `true` iff both decode and neither is of small order. */
  load(publicKey: Uint8Array, commitment: Uint8Array): boolean {
    this.#bytes.set(publicKey, IN_A);
    this.#bytes.set(commitment, IN_R);
    return this.#exports.load() === 1;
  }

  /** `true` iff Σ sign·digits·point is the identity (slots: B, 2^128·B, R, A). */
  walk(slots: readonly [Int16Array, number][]): boolean {
    let top = 0;
    for (const [digits] of slots) top = Math.max(top, digits.length);
    if (top > DIGIT_SLOT) throw new RangeError("scalar too long for the module");
    for (let slot = 0; slot < 4; slot++) {
      const [digits, sign] = slots[slot];
      const at = slot * DIGIT_SLOT;
      for (let i = 0; i < digits.length; i++) this.#digits[at + i] = sign * digits[i];
      this.#digits.fill(0, at + digits.length, at + top);
    }
    return this.#exports.walk(top) === 1;
  }
}

let engine: Engine | null = null;

/**
 * `s·B == R + c·A` exactly (no cofactor) for the encodings A = `publicKey`
 * and R = `commitment`, `false` when either is non-canonical, off the curve
 * or of small order. Requires `s < ℓ` and `c < ℓ` (the caller checks s).
 *
 * With u ≡ v·c (mod 8ℓ), v odd (`halfScalars`), it checks
 * `(v·s mod ℓ)·B − v·R − u·A = 0` instead: ~128 doublings, not ~253 (see
 * `zkp_reference.ts` for why that is the same equation); when no such pair
 * exists, `s·B − R − c·A = 0` directly.
 */
export function wasmEquationHolds(
  publicKey: Uint8Array,
  commitment: Uint8Array,
  s: bigint,
  c: bigint,
): boolean {
  engine ??= new Engine();
  if (!engine.load(publicKey, commitment)) return false;
  const pair = halfScalars(c);
  if (pair === null) {
    return engine.walk([
      [nafDigits(s & (HALF_LIMIT - 1n), FIXED_WIDTH), 1],
      [nafDigits(s >> HALF_BITS, FIXED_WIDTH), 1],
      [Int16Array.of(1), -1],
      [nafDigits(c, POINT_WIDTH), -1],
    ]);
  }
  const [u, v] = pair;
  const vs = ((v * s) % ED25519_ORDER + ED25519_ORDER) % ED25519_ORDER;
  return engine.walk([
    [nafDigits(vs & (HALF_LIMIT - 1n), FIXED_WIDTH), 1],
    [nafDigits(vs >> HALF_BITS, FIXED_WIDTH), 1],
    // −v·R: |v|·R when v < 0, else −|v|·R.
    [nafDigits(v < 0n ? -v : v, POINT_WIDTH), v < 0n ? 1 : -1],
    [nafDigits(u, POINT_WIDTH), -1],
  ]);
}
