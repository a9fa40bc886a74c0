/**
 * A minimal DER (X.690 Distinguished Encoding Rules) encoder: exactly the
 * types an X.509 v3 certificate needs, nothing more. Every function returns
 * a complete TLV (tag, length, value) except where noted, so certificates are
 * built by plain function composition and each byte is easy to audit.
 *
 * Only low tag numbers (0..30) are supported; X.509 never needs more.
 *
 * @module
 */

import { utf8 } from "../../crypto/bytes.ts";

/** Error thrown for values that have no valid DER encoding here. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/**
 * Bytes backed by a plain ArrayBuffer, which WebCrypto's `BufferSource`
 * requires; every encoder returns this so results feed `crypto.subtle` directly.
 */
export type DerBytes = Uint8Array<ArrayBuffer>;

function concat(...parts: Uint8Array[]): DerBytes {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Universal tag bytes used by the encoder and the reader. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Encodes a definite length: short form below 128, else long form. */
export function encodeLength(length: number): DerBytes {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new DerError(`invalid DER length ${length}`);
  }
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Wraps `content` as one TLV with the given tag byte. */
export function tlv(tag: number, content: Uint8Array): DerBytes {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new DerError(`unsupported tag byte ${tag}`);
  }
  return concat(Uint8Array.of(tag), encodeLength(content.length), content);
}

/** SEQUENCE of already-encoded elements, in the given order. */
export function sequence(...elements: Uint8Array[]): DerBytes {
  return tlv(Tag.SEQUENCE, concat(...elements));
}

/**
 * SET OF already-encoded elements. DER requires SET OF contents sorted by
 * their encodings (X.690 11.6), so we sort rather than trust the caller.
 */
export function set(...elements: Uint8Array[]): DerBytes {
  const sorted = [...elements].sort(compareBytes);
  return tlv(Tag.SET, concat(...sorted));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** BOOLEAN: DER fixes TRUE as 0xff. */
export function boolean(value: boolean): DerBytes {
  return tlv(Tag.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));
}

/**
 * INTEGER from a non-negative value. A `Uint8Array` is read as an unsigned
 * big-endian magnitude (as WebCrypto and random serials produce). The
 * encoding is minimal, with a 0x00 prefix when the high bit would otherwise
 * make the two's-complement value negative.
 */
export function integer(value: number | bigint | Uint8Array): DerBytes {
  let magnitude: Uint8Array;
  if (value instanceof Uint8Array) {
    magnitude = value;
  } else {
    const n = BigInt(value);
    if (n < 0n) throw new DerError("negative INTEGER is not supported");
    const hex = n.toString(16);
    const padded = hex.length % 2 === 0 ? hex : "0" + hex;
    magnitude = new Uint8Array(padded.length / 2);
    for (let i = 0; i < magnitude.length; i++) {
      magnitude[i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16);
    }
  }
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.length === 0 ? Uint8Array.of(0) : magnitude.subarray(start);
  const content = trimmed[0] & 0x80 ? concat(Uint8Array.of(0), trimmed) : trimmed;
  return tlv(Tag.INTEGER, content);
}

/** BIT STRING; `unusedBits` (0..7) counts padding bits in the last byte. */
export function bitString(bytes: Uint8Array, unusedBits = 0): DerBytes {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) {
    throw new DerError(`invalid unused-bit count ${unusedBits}`);
  }
  if (unusedBits > 0 && bytes.length === 0) {
    throw new DerError("empty BIT STRING cannot have unused bits");
  }
  return tlv(Tag.BIT_STRING, concat(Uint8Array.of(unusedBits), bytes));
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): DerBytes {
  return tlv(Tag.OCTET_STRING, bytes);
}

/** NULL. */
export function nullValue(): DerBytes {
  return Uint8Array.of(Tag.NULL, 0x00);
}

/** OBJECT IDENTIFIER from dotted form, e.g. "1.2.840.10045.4.3.2". */
export function oid(dotted: string): DerBytes {
  if (!/^\d+(\.\d+)+$/.test(dotted)) throw new DerError(`malformed OID "${dotted}"`);
  const arcs = dotted.split(".").map((a) => BigInt(a));
  const [first, second] = arcs;
  if (first > 2n || (first < 2n && second >= 40n)) {
    throw new DerError(`OID "${dotted}" has invalid leading arcs`);
  }
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...arcs.slice(2)]) {
    // Base-128, most significant group first, continuation bit on all but the last.
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) {
      groups.unshift(Number(rest & 0x7fn) | 0x80);
    }
    bytes.push(...groups);
  }
  return tlv(Tag.OID, Uint8Array.from(bytes));
}

/** UTF8String. */
export function utf8String(text: string): DerBytes {
  return tlv(Tag.UTF8_STRING, utf8(text));
}

/** PrintableString; throws for characters outside its restricted alphabet. */
export function printableString(text: string): DerBytes {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) {
    throw new DerError("text contains characters not allowed in PrintableString");
  }
  return tlv(Tag.PRINTABLE_STRING, utf8(text));
}

/** IA5String (ASCII); used by dNSName in subjectAltName. */
export function ia5String(text: string): DerBytes {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) throw new DerError("text is not ASCII (IA5String)");
  }
  return tlv(Tag.IA5_STRING, utf8(text));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function checkDate(date: Date): void {
  if (Number.isNaN(date.getTime())) throw new DerError("invalid Date");
}

/** UTCTime "YYMMDDHHMMSSZ" (seconds precision); only for years 1950..2049. */
export function utcTime(date: Date): DerBytes {
  checkDate(date);
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new DerError(`UTCTime cannot hold year ${year}`);
  const text = pad(year % 100, 2) + pad(date.getUTCMonth() + 1, 2) + pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) + pad(date.getUTCMinutes(), 2) + pad(date.getUTCSeconds(), 2) + "Z";
  return tlv(Tag.UTC_TIME, utf8(text));
}

/** GeneralizedTime "YYYYMMDDHHMMSSZ" (seconds precision, no fraction, per RFC 5280). */
export function generalizedTime(date: Date): DerBytes {
  checkDate(date);
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new DerError(`GeneralizedTime cannot hold year ${year}`);
  const text = pad(year, 4) + pad(date.getUTCMonth() + 1, 2) + pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) + pad(date.getUTCMinutes(), 2) + pad(date.getUTCSeconds(), 2) + "Z";
  return tlv(Tag.GENERALIZED_TIME, utf8(text));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
export function x509Time(date: Date): DerBytes {
  checkDate(date);
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? utcTime(date) : generalizedTime(date);
}

function contextTag(tagNumber: number, constructed: boolean): number {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) {
    throw new DerError(`unsupported context tag number ${tagNumber}`);
  }
  return 0x80 | (constructed ? 0x20 : 0) | tagNumber;
}

/** `[n] EXPLICIT`: a constructed context-specific TLV wrapping one encoded element. */
export function explicit(tagNumber: number, element: Uint8Array): DerBytes {
  return tlv(contextTag(tagNumber, true), element);
}

/**
 * `[n] IMPLICIT`: replaces the tag of the underlying type, so the caller
 * passes the raw content octets (not a TLV). `constructed` must be true when
 * the underlying type is (e.g. an implicitly tagged SEQUENCE).
 */
export function implicit(tagNumber: number, content: Uint8Array, constructed = false): DerBytes {
  return tlv(contextTag(tagNumber, constructed), content);
}
