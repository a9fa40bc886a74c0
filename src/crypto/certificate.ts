/**
 * Device certificates (upstream `crates/crypto/src/certificate.rs`): the device CA signs, with
 * Ed25519, the compact JSON of seven data fields in a fixed order. Serials are u64 and are kept
 * as `bigint` end to end (they routinely exceed 2^53).
 *
 * Parsing paths ({@link parseCertificate}):
 * - JSON text: `serial` must be a JSON integer literal; its digits are read from the source text
 *   (never through `Number`), so every u64 survives exactly.
 * - Objects: `serial` may be a `bigint`, a decimal string, or a safe-integer `number`; a number
 *   beyond 2^53 − 1 is rejected as "serial lost precision".
 *
 * @module
 */

import { constantTimeEqual, fromHex, toHex, utf8 } from "./bytes.ts";
import { createSigner, verify as ed25519Verify } from "./ed25519.ts";

/** A device certificate. Hex fields are lower case once parsed or issued. */
export interface DeviceCertificate {
  /** u64 serial. */
  serial: bigint;
  user_id: string;
  device_id: string;
  /** Device Ed25519 public key, 64 hex chars. */
  public_key: string;
  /** CA Ed25519 public key, 64 hex chars. */
  issuer: string;
  /** Unix seconds (integer). */
  issued_at: number;
  /** Unix seconds (integer). */
  expires_at: number;
  /** Ed25519 signature over {@link certificateMessage}, 128 hex chars. */
  signature: string;
}

/** Default validity of issued certificates: 30 days. */
export const DEFAULT_CERT_VALIDITY_SECONDS = 2_592_000;
/** Default tolerated clock skew for `issued_at` in the future. */
export const DEFAULT_CERT_SKEW_SECONDS = 300;
const U64_MAX = (1n << 64n) - 1n;

/** Error for malformed certificates or issuing inputs. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

// JSON.stringify on a string escapes exactly like serde_json: \" \\ \b \f \n \r \t, other
// controls as lower-case \u00XX, everything else literal (lone surrogates are refused earlier).
const jsonString = (s: string): string => JSON.stringify(s);

/** The canonical signed text: compact JSON of the 7 data fields in upstream order. */
export function certificateMessageText(cert: Omit<DeviceCertificate, "signature">): string {
  return `{"serial":${cert.serial.toString()},"user_id":${jsonString(cert.user_id)},` +
    `"device_id":${jsonString(cert.device_id)},"public_key":${jsonString(cert.public_key)},` +
    `"issuer":${jsonString(cert.issuer)},"issued_at":${cert.issued_at},` +
    `"expires_at":${cert.expires_at}}`;
}

/** UTF-8 bytes of {@link certificateMessageText} — what the CA signs. */
export function certificateMessage(cert: Omit<DeviceCertificate, "signature">): Uint8Array {
  return utf8(certificateMessageText(cert));
}

/** Wire JSON: the data fields in canonical order, then `signature`. */
export function certificateToJson(cert: DeviceCertificate): string {
  return certificateMessageText(cert).slice(0, -1) + `,"signature":${jsonString(cert.signature)}}`;
}

function serialFrom(value: unknown): bigint {
  let serial: bigint;
  if (typeof value === "bigint") serial = value;
  else if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new CertificateError("serial must be an integer");
    if (!Number.isSafeInteger(value)) throw new CertificateError("serial lost precision");
    serial = BigInt(value);
  } else if (typeof value === "string" && /^(0|[1-9][0-9]*)$/.test(value)) {
    serial = BigInt(value);
  } else throw new CertificateError("serial must be a u64 integer");
  if (serial < 0n || serial > U64_MAX) throw new CertificateError("serial out of u64 range");
  return serial;
}

function textField(obj: Record<string, unknown>, name: string): string {
  const v = obj[name];
  if (typeof v !== "string") throw new CertificateError(`${name} must be a string`);
  if (!v.isWellFormed()) throw new CertificateError(`${name} is not valid Unicode`);
  return v;
}

function hexField(obj: Record<string, unknown>, name: string, bytes: number): string {
  const v = obj[name];
  if (typeof v !== "string") throw new CertificateError(`${name} must be a hex string`);
  try {
    return toHex(fromHex(v, bytes));
  } catch {
    throw new CertificateError(`${name} must be ${bytes * 2} hex characters`);
  }
}

function timeField(obj: Record<string, unknown>, name: string): number {
  const v = obj[name];
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new CertificateError(`${name} must be an integer number of seconds`);
  }
  return v;
}

// Marks a serial read from JSON source text, so a string serial in JSON is still refused.
const SOURCE_SERIAL = Symbol("serial from JSON source");

/**
 * Parses a certificate from JSON text or an already-parsed object, validating every field
 * (u64 serial, strings, hex lengths, integer times). Unknown fields are ignored (like serde).
 * Throws {@link CertificateError}. Does not check the signature; see {@link verifyCertificate}.
 */
export function parseCertificate(input: string | object): DeviceCertificate {
  let obj: unknown = input;
  if (typeof input === "string") {
    try {
      obj = JSON.parse(input, (key, value, context?: { source?: string }) => {
        if (key === "serial" && typeof value === "number") {
          const source = context?.source;
          if (source === undefined) throw new CertificateError("runtime lacks JSON source access");
          if (!/^(0|[1-9][0-9]*)$/.test(source)) {
            throw new CertificateError("serial must be a u64 integer");
          }
          return { [SOURCE_SERIAL]: BigInt(source) };
        }
        return value;
      });
    } catch (e) {
      if (e instanceof CertificateError) throw e;
      throw new CertificateError("certificate is not valid JSON");
    }
    if (typeof obj === "object" && obj !== null) {
      const raw = (obj as Record<string, unknown>).serial;
      if (typeof raw !== "object" || raw === null || !(SOURCE_SERIAL in raw)) {
        throw new CertificateError("serial must be a JSON integer");
      }
      (obj as Record<string, unknown>).serial = (raw as Record<symbol, bigint>)[SOURCE_SERIAL];
    }
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new CertificateError("certificate must be a JSON object");
  }
  const o = obj as Record<string, unknown>;
  return {
    serial: serialFrom(o.serial),
    user_id: textField(o, "user_id"),
    device_id: textField(o, "device_id"),
    public_key: hexField(o, "public_key", 32),
    issuer: hexField(o, "issuer", 32),
    issued_at: timeField(o, "issued_at"),
    expires_at: timeField(o, "expires_at"),
    signature: hexField(o, "signature", 64),
  };
}

/** The last CA signer made, with (a copy of) its seed: a server issues with one CA key. */
let heldSigner: { seed: Uint8Array; signer: ReturnType<typeof createSigner> } | null = null;

/**
 * A signer for `seed`, kept while the seed stays the same: importing the
 * key costs more than the signature (every handshake of a new device issues
 * a certificate).
 */
function caSigner(seed: Uint8Array): ReturnType<typeof createSigner> {
  if (heldSigner && constantTimeEqual(heldSigner.seed, seed)) return heldSigner.signer;
  const signer = createSigner(seed);
  heldSigner = { seed: seed.slice(), signer };
  return signer;
}

/** Input to {@link issueCertificate}. */
export interface IssueInput {
  /** 32-byte Ed25519 seed of the device CA (the `private` of its device keys). */
  caSeed: Uint8Array;
  userId: string;
  deviceId: string;
  /** 32-byte device public key. */
  publicKey: Uint8Array;
  /** Unix seconds (integer); becomes `issued_at`. */
  now: number;
  /** Default {@link DEFAULT_CERT_VALIDITY_SECONDS}. */
  validitySeconds?: number;
  /** Default: a random u64. */
  serial?: bigint;
}

/** Random u64 serial, as the upstream server uses. */
export function randomSerial(): bigint {
  return new DataView(crypto.getRandomValues(new Uint8Array(8)).buffer).getBigUint64(0, true);
}

/** Issues and signs a certificate. Throws {@link CertificateError} on bad input. */
export function issueCertificate(input: IssueInput): DeviceCertificate {
  const validity = input.validitySeconds ?? DEFAULT_CERT_VALIDITY_SECONDS;
  if (!Number.isSafeInteger(input.now)) throw new CertificateError("now must be integer seconds");
  if (!Number.isSafeInteger(validity) || validity <= 0) {
    throw new CertificateError("validitySeconds must be a positive integer");
  }
  if (!(input.publicKey instanceof Uint8Array) || input.publicKey.length !== 32) {
    throw new CertificateError("publicKey must be 32 bytes");
  }
  if (!(input.caSeed instanceof Uint8Array) || input.caSeed.length !== 32) {
    throw new CertificateError("caSeed must be 32 bytes");
  }
  const serial = input.serial ?? randomSerial();
  if (serial < 0n || serial > U64_MAX) throw new CertificateError("serial out of u64 range");
  if (!input.userId.isWellFormed() || !input.deviceId.isWellFormed()) {
    throw new CertificateError("user and device ids must be valid Unicode");
  }
  const signer = caSigner(input.caSeed);
  const data = {
    serial,
    user_id: input.userId,
    device_id: input.deviceId,
    public_key: toHex(input.publicKey),
    issuer: toHex(signer.publicKey),
    issued_at: input.now,
    expires_at: input.now + validity,
  };
  return { ...data, signature: toHex(signer.sign(certificateMessage(data))) };
}

/** Why a certificate was refused. */
export type CertificateFailure =
  | "issuer_mismatch"
  | "bad_signature"
  | "device_mismatch"
  | "user_mismatch"
  | "key_mismatch"
  | "bad_validity_window"
  | "not_yet_valid"
  | "expired";

/** Outcome of {@link verifyCertificate}. */
export type CertificateVerdict = { ok: true } | { ok: false; reason: CertificateFailure };

/** Expectations for {@link verifyCertificate}. */
export interface VerifyCertificateOptions {
  /** 32-byte device CA public key. */
  caPublic: Uint8Array;
  /** Unix seconds. */
  now: number;
  /** When given, must equal `device_id`. */
  deviceId?: string;
  /** When given, must equal `user_id`. */
  userId?: string;
  /** When given, must equal `public_key`. */
  publicKey?: Uint8Array;
  /** Tolerated future `issued_at`; default {@link DEFAULT_CERT_SKEW_SECONDS}. */
  skewSeconds?: number;
}

/**
 * Checks, in this order (first failure wins): issuer == CA, signature, device, user, key,
 * `issued_at < expires_at`, `issued_at ≤ now + skew`, `expires_at > now`.
 * Expects a certificate from {@link parseCertificate} or {@link issueCertificate}.
 */
export function verifyCertificate(
  cert: DeviceCertificate,
  opts: VerifyCertificateOptions,
): CertificateVerdict {
  const fail = (reason: CertificateFailure): CertificateVerdict => ({ ok: false, reason });
  if (cert.issuer.toLowerCase() !== toHex(opts.caPublic)) return fail("issuer_mismatch");
  let signature: Uint8Array;
  try {
    signature = fromHex(cert.signature, 64);
  } catch {
    return fail("bad_signature");
  }
  if (!ed25519Verify(signature, certificateMessage(cert), opts.caPublic)) {
    return fail("bad_signature");
  }
  if (opts.deviceId !== undefined && cert.device_id !== opts.deviceId) {
    return fail("device_mismatch");
  }
  if (opts.userId !== undefined && cert.user_id !== opts.userId) return fail("user_mismatch");
  if (opts.publicKey !== undefined && cert.public_key.toLowerCase() !== toHex(opts.publicKey)) {
    return fail("key_mismatch");
  }
  if (cert.issued_at >= cert.expires_at) return fail("bad_validity_window");
  const skew = opts.skewSeconds ?? DEFAULT_CERT_SKEW_SECONDS;
  if (cert.issued_at > opts.now + skew) return fail("not_yet_valid");
  if (cert.expires_at <= opts.now) return fail("expired");
  return { ok: true };
}
