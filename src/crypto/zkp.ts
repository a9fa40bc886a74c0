/**
 * Schnorr proof of knowledge of a device's Ed25519 secret scalar, sent in the handshake
 * `Hello` (upstream `crates/crypto/src/zkp.rs`). Non-interactive via Fiat–Shamir with the
 * BLAKE3 XOF; all byte layouts match upstream exactly.
 *
 * Deliberate hardening over upstream (which uses dalek's lenient decompression):
 * - point encodings must be canonical (`y < p`, RFC 8032 decoding);
 * - a small-order `A` (device public) or `R` (commitment) is rejected. An honest prover never
 *   produces either, and accepting them lets proofs verify without knowledge of any secret
 *   (e.g. `A = R = identity`, `s = 0`).
 *
 * @module
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { blake3Xof64 } from "./blake3.ts";
import { concatBytes, constantTimeEqual, fromHex, toHex, u32le, u64le, utf8 } from "./bytes.ts";

/** Domain tag that opens both the context and the challenge transcript. */
export const ZKP_DOMAIN_TAG = "commucat:zkp:handshake:v1";

const TAG = utf8(ZKP_DOMAIN_TAG);
const Point = ed25519.Point;
const Fn = Point.Fn;
/** The prime order ℓ of the edwards25519 base point. */
export const ED25519_ORDER: bigint = Fn.ORDER;

/** Error for malformed proof inputs or encodings. */
export class ZkpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ZkpError";
  }
}

/** A proof: `commitment` = R (compressed point), `response` = s (little-endian scalar). */
export interface DeviceKeyProof {
  /** 32-byte compressed point R = r·B. */
  readonly commitment: Uint8Array;
  /** 32-byte canonical little-endian scalar s = r + c·x mod ℓ. */
  readonly response: Uint8Array;
}

/** JSON form of a proof, as carried in `Hello`. */
export interface DeviceKeyProofJson {
  /** 64 hex chars. */
  commitment: string;
  /** 64 hex chars. */
  response: string;
}

function need32(name: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new ZkpError(`${name} must be 32 bytes`);
  }
}

/**
 * Proof context: `tag || u32_le(len(domain)) || domain || u32_le(len(deviceId)) || deviceId ||
 * devicePublic[32] || clientStatic[32]` (lengths are UTF-8 byte lengths).
 */
export function zkpContext(
  domain: string,
  deviceId: string,
  devicePublic: Uint8Array,
  clientStatic: Uint8Array,
): Uint8Array {
  need32("device public key", devicePublic);
  need32("client static key", clientStatic);
  const d = utf8(domain);
  const id = utf8(deviceId);
  return concatBytes(TAG, u32le(d.length), d, u32le(id.length), id, devicePublic, clientStatic);
}

/** c = BLAKE3-XOF(tag || u64_le(len(ctx)) || ctx || A || R), 64 bytes reduced mod ℓ. */
function challenge(context: Uint8Array, publicKey: Uint8Array, commitment: Uint8Array): bigint {
  const transcript = concatBytes(
    TAG,
    u64le(BigInt(context.length)),
    context,
    publicKey,
    commitment,
  );
  return Fn.create(bytesToNumberLE(blake3Xof64(transcript)));
}

/** Input to {@link proveDeviceKey}. */
export interface ProveInput {
  /** 32-byte Ed25519 seed of the device (the `private` of device keys). */
  privateSeed: Uint8Array;
  /** The device's Ed25519 public key; must match `privateSeed`. */
  publicKey: Uint8Array;
  /** Context from {@link zkpContext}. */
  context: Uint8Array;
  /** 64 bytes of nonce randomness; only for tests and vectors (default: fresh random). */
  random?: Uint8Array;
}

/** Proves knowledge of the secret scalar behind `publicKey`. Throws {@link ZkpError}. */
export function proveDeviceKey(input: ProveInput): DeviceKeyProof {
  need32("private seed", input.privateSeed);
  need32("public key", input.publicKey);
  // x = clamp(SHA-512(seed)[0..32]) mod ℓ, A = x·B (the library's constant-time path).
  const { scalar: x, pointBytes } = ed25519.utils.getExtendedPublicKey(input.privateSeed);
  if (!constantTimeEqual(pointBytes, input.publicKey)) {
    throw new ZkpError("public key does not match the private seed");
  }
  if (input.random !== undefined && input.random.length !== 64) {
    throw new ZkpError("nonce randomness must be 64 bytes");
  }
  let r = 0n;
  while (r === 0n) {
    const random = input.random ?? crypto.getRandomValues(new Uint8Array(64));
    r = Fn.create(bytesToNumberLE(random));
    if (r === 0n && input.random !== undefined) throw new ZkpError("nonce reduces to zero");
  }
  const commitment = Point.BASE.multiply(r).toBytes();
  const c = challenge(input.context, input.publicKey, commitment);
  const s = Fn.add(r, Fn.mul(c, x));
  return { commitment, response: numberToBytesLE(s, 32) };
}

/** Input to {@link verifyDeviceKeyProof}. */
export interface VerifyInput {
  /** The device's claimed Ed25519 public key (A). */
  publicKey: Uint8Array;
  /** Context from {@link zkpContext}, rebuilt by the verifier. */
  context: Uint8Array;
  /** R, 32 bytes. */
  commitment: Uint8Array;
  /** s, 32 bytes. */
  response: Uint8Array;
}

/**
 * `true` iff `s·B == R + c·A` exactly (no cofactor), with `s < ℓ`, canonical decodable A and R,
 * and neither of small order. Never throws; any malformed input yields `false`.
 */
export function verifyDeviceKeyProof(input: VerifyInput): boolean {
  const { publicKey, context, commitment, response } = input;
  for (const b of [publicKey, commitment, response]) {
    if (!(b instanceof Uint8Array) || b.length !== 32) return false;
  }
  if (!(context instanceof Uint8Array)) return false;
  const s = bytesToNumberLE(response);
  if (s >= ED25519_ORDER) return false;
  let A, R;
  try {
    A = Point.fromBytes(publicKey, false);
    R = Point.fromBytes(commitment, false);
  } catch {
    return false;
  }
  if (A.isSmallOrder() || R.isSmallOrder()) return false;
  const c = challenge(context, publicKey, commitment);
  return halvedEquationHolds(s, c, A, R) ?? plainEquationHolds(s, c, A, R);
}

/** An edwards25519 point (noble). */
export type EdPoint = InstanceType<typeof Point>;

/** `s·B == R + c·A`, directly: the reference the halved form must agree with (exported for tests). */
export function plainEquationHolds(s: bigint, c: bigint, A: EdPoint, R: EdPoint): boolean {
  // Verification handles public data only, so variable-time multiplication is fine.
  return Point.BASE.multiplyUnsafe(s).equals(R.add(A.multiplyUnsafe(c)));
}

/**
 * Every point of edwards25519 (order 8ℓ, any torsion included) is killed by N = 8ℓ, so
 * scalars acting on A and R may be taken mod N; B has order ℓ.
 */
const GROUP_EXPONENT: bigint = 8n * ED25519_ORDER;
/** Half-size scalars stop here (√N ≈ 2^127.5); anything much larger falls back. */
const HALF_BITS = 128n;
const HALF_LIMIT = 1n << HALF_BITS;
const FALLBACK_LIMIT = 1n << 136n;

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
 * Width-w NAF digits of `n ≥ 0`, least significant first (0 or odd, |d| < 2^(w−1)),
 * recoded on the bits in numbers: one BigInt operation per scalar, not one per bit.
 */
function nafDigits(n: bigint, width: number): Int16Array {
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

/**
 * (u, v) with u ≡ v·c (mod N), u > 0, v odd, both below 2^136 (typically 2^128),
 * by the half extended Euclidean algorithm on (N, c); `null` if none. Exported for tests.
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

/** JSON form `{commitment, response}` with lower-case hex. */
export function zkpToJson(proof: DeviceKeyProof): DeviceKeyProofJson {
  return { commitment: toHex(proof.commitment), response: toHex(proof.response) };
}

/**
 * Parses the JSON form (hex in either case, exactly 64 chars each). Throws {@link ZkpError}.
 * Only the encoding is checked here; validity is {@link verifyDeviceKeyProof}'s job.
 */
export function zkpFromJson(value: unknown): DeviceKeyProof {
  if (typeof value !== "object" || value === null) throw new ZkpError("proof must be an object");
  const { commitment, response } = value as Record<string, unknown>;
  if (typeof commitment !== "string" || typeof response !== "string") {
    throw new ZkpError("proof commitment and response must be hex strings");
  }
  try {
    return { commitment: fromHex(commitment, 32), response: fromHex(response, 32) };
  } catch {
    throw new ZkpError("proof commitment and response must be 64 hex characters");
  }
}
