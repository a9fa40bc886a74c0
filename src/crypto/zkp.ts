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
 * Verification runs the curve arithmetic in WebAssembly (`zkp_wasm.ts`, ~3× faster than noble's
 * BigInt); the noble path stays as {@link verifyDeviceKeyProofReference}, the tests' reference.
 *
 * @module
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { blake3Xof64 } from "./blake3.ts";
import { concatBytes, constantTimeEqual, fromHex, toHex, u32le, u64le, utf8 } from "./bytes.ts";
import { ED25519_ORDER } from "./zkp_scalars.ts";
import { halvedEquationHolds, plainEquationHolds } from "./zkp_reference.ts";
import { wasmEquationHolds } from "./zkp_wasm.ts";

export { ED25519_ORDER, halfScalars } from "./zkp_scalars.ts";
export { type EdPoint, halvedEquationHolds, plainEquationHolds } from "./zkp_reference.ts";

/** Domain tag that opens both the context and the challenge transcript. */
export const ZKP_DOMAIN_TAG = "commucat:zkp:handshake:v1";

const TAG = utf8(ZKP_DOMAIN_TAG);
const Point = ed25519.Point;
const Fn = Point.Fn;

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
 * and neither of small order. Never throws; any malformed input yields `false`. The curve work
 * runs in WebAssembly (`zkp_wasm.ts`); {@link verifyDeviceKeyProofReference} is the same check
 * on noble, kept as the reference the tests compare it with.
 */
export function verifyDeviceKeyProof(input: VerifyInput): boolean {
  const s = checkedResponse(input);
  if (s === null) return false;
  const { publicKey, context, commitment } = input;
  return wasmEquationHolds(publicKey, commitment, s, challenge(context, publicKey, commitment));
}

/** {@link verifyDeviceKeyProof} on noble's BigInt arithmetic (the reference; several times slower). */
export function verifyDeviceKeyProofReference(input: VerifyInput): boolean {
  const s = checkedResponse(input);
  if (s === null) return false;
  const { publicKey, context, commitment } = input;
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

/** s from a well-formed input with `s < ℓ`, else `null`. */
function checkedResponse(input: VerifyInput): bigint | null {
  const { publicKey, context, commitment, response } = input;
  for (const b of [publicKey, commitment, response]) {
    if (!(b instanceof Uint8Array) || b.length !== 32) return null;
  }
  if (!(context instanceof Uint8Array)) return null;
  const s = bytesToNumberLE(response);
  return s < ED25519_ORDER ? s : null;
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
