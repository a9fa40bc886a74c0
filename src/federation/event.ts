/**
 * Signed federation events (upstream §9.2), byte-exact:
 *
 * ```
 * digest    = BLAKE3(event_id ‖ origin ‖ scope ‖ i64_le(created_at, unix ns) ‖ canonical(payload))
 * signature = Ed25519(federation key, digest)
 * wire      = {"event":{event_id, origin, created_at, payload, scope},
 *              "signature":[64 numbers], "digest":[32 numbers]}
 * ```
 *
 * @module
 */
import {
  blake3,
  concatBytes,
  constantTimeEqual,
  type Ed25519Backend,
  nativeEd25519,
  u64le,
  utf8,
} from "../crypto/mod.ts";
import { canonicalJson, JsonNumber, type JsonValue, parseJsonKeepingNumbers } from "./canonical.ts";
import { parseRfc3339Nanos } from "./time.ts";

/** An event as signed by its origin server. */
export interface FederationEvent {
  event_id: string;
  /** Domain of the signing server. */
  origin: string;
  /** RFC 3339 with up to 9 fraction digits. */
  created_at: string;
  payload: JsonValue;
  /** Destination domain (upstream puts the target domain here). */
  scope: string;
}

/** An event with its digest and signature, as sent on the wire. */
export interface SignedEvent {
  event: FederationEvent;
  signature: Uint8Array;
  digest: Uint8Array;
}

/** Why a body is not a signed event, or why it does not verify. */
export class EventError extends Error {
  /** `invalid_request` (shape), `digest_mismatch`, `invalid_signature`. */
  readonly code: "invalid_request" | "digest_mismatch" | "invalid_signature";
  constructor(code: EventError["code"], message: string) {
    super(message);
    this.name = "EventError";
    this.code = code;
  }
}

/** The 32-byte digest of an event. Throws TimestampError for a bad `created_at`. */
export function eventDigest(event: FederationEvent): Uint8Array {
  const nanos = BigInt.asUintN(64, parseRfc3339Nanos(event.created_at));
  return blake3(concatBytes(
    utf8(event.event_id),
    utf8(event.origin),
    utf8(event.scope),
    u64le(nanos),
    utf8(canonicalJson(event.payload)),
  ));
}

/** Signs `event` with the federation key `seed`. */
export function signEvent(
  event: FederationEvent,
  seed: Uint8Array,
  backend: Ed25519Backend = nativeEd25519,
): SignedEvent {
  const digest = eventDigest(event);
  return { event, digest, signature: backend.sign(digest, seed) };
}

/**
 * Checks a signed event against the origin's public key: the digest must be
 * the event's (else `digest_mismatch`), the signature 64 bytes and valid over
 * it (else `invalid_signature`).
 */
export function verifySignedEvent(
  signed: SignedEvent,
  publicKey: Uint8Array,
  backend: Ed25519Backend = nativeEd25519,
): void {
  let digest: Uint8Array;
  try {
    digest = eventDigest(signed.event);
  } catch (error) {
    throw new EventError("invalid_request", (error as Error).message);
  }
  if (signed.digest.length !== 32 || !constantTimeEqual(digest, signed.digest)) {
    throw new EventError("digest_mismatch", "event digest does not match its contents");
  }
  if (signed.signature.length !== 64 || !backend.verify(signed.signature, digest, publicKey)) {
    throw new EventError("invalid_signature", "event signature is not valid for the origin");
  }
}

/** The wire form (JSON text) of a signed event. */
export function encodeSignedEvent(signed: SignedEvent): string {
  return canonicalJson({
    event: { ...signed.event },
    signature: Array.from(signed.signature),
    digest: Array.from(signed.digest),
  });
}

/** Parses the wire form; numbers in the payload keep their source text. */
export function decodeSignedEvent(text: string): SignedEvent {
  let value: JsonValue;
  try {
    value = parseJsonKeepingNumbers(text);
  } catch (error) {
    throw new EventError("invalid_request", `invalid JSON: ${(error as Error).message}`);
  }
  const body = asObject(value, "body");
  const event = asObject(body.event, "event");
  return {
    event: {
      event_id: asString(event.event_id, "event.event_id"),
      origin: asString(event.origin, "event.origin"),
      created_at: asString(event.created_at, "event.created_at"),
      payload: event.payload === undefined ? null : event.payload,
      scope: asString(event.scope, "event.scope"),
    },
    signature: asBytes(body.signature, "signature"),
    digest: asBytes(body.digest, "digest"),
  };
}

function asObject(v: JsonValue | undefined, what: string): Record<string, JsonValue> {
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof JsonNumber) {
    throw new EventError("invalid_request", `${what} must be an object`);
  }
  return v as Record<string, JsonValue>;
}

function asString(v: JsonValue | undefined, what: string): string {
  if (typeof v !== "string") throw new EventError("invalid_request", `${what} must be a string`);
  return v;
}

/** A JSON array of byte values (upstream serialises `Vec<u8>`/`[u8; N]` this way). */
function asBytes(v: JsonValue | undefined, what: string): Uint8Array {
  if (!Array.isArray(v) || v.length > 64) {
    throw new EventError("invalid_request", `${what} must be an array of bytes`);
  }
  return Uint8Array.from(v, (item) => {
    const source = item instanceof JsonNumber
      ? item.source
      : typeof item === "number"
      ? String(item)
      : "";
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(source) || Number(source) > 255) {
      throw new EventError("invalid_request", `${what} must be an array of bytes`);
    }
    return Number(source);
  });
}
