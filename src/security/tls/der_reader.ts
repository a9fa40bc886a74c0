/**
 * A small DER reader: enough to walk an X.509 certificate (ours or a
 * user-provided one) and pull out validity, subjectAltName and the public
 * key. It checks lengths strictly and never reads past the input; anything
 * malformed raises {@link DerError}.
 *
 * @module
 */

import { fromUtf8 } from "../../crypto/bytes.ts";
import { DerError, Tag } from "./der.ts";

/** One decoded TLV. `content` and `encoded` are views into the input. */
export interface DerElement {
  /** The full tag byte, e.g. 0x30 for SEQUENCE, 0xa3 for [3] EXPLICIT. */
  tag: number;
  /** True for constructed encodings (SEQUENCE, SET, EXPLICIT tags). */
  constructed: boolean;
  /** The value octets. */
  content: Uint8Array;
  /** The whole TLV including tag and length (e.g. the signed TBSCertificate). */
  encoded: Uint8Array;
}

/** Reads one TLV at `offset`; returns it and the offset just past it. */
export function readElement(
  bytes: Uint8Array,
  offset = 0,
): { element: DerElement; next: number } {
  if (offset + 2 > bytes.length) throw new DerError("truncated DER header");
  const tag = bytes[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not supported");
  let length = bytes[offset + 1];
  let headerLength = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError("indefinite length is not allowed in DER");
    if (count > 4) throw new DerError("DER length too large");
    if (offset + 2 + count > bytes.length) throw new DerError("truncated DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i];
    if (length < 0x80 || bytes[offset + 2] === 0) {
      throw new DerError("non-minimal DER length");
    }
    headerLength += count;
  }
  const start = offset + headerLength;
  const end = start + length;
  if (end > bytes.length) throw new DerError("DER value runs past the end of the input");
  return {
    element: {
      tag,
      constructed: (tag & 0x20) !== 0,
      content: bytes.subarray(start, end),
      encoded: bytes.subarray(offset, end),
    },
    next: end,
  };
}

/** Reads exactly one TLV spanning all of `bytes` (no trailing data). */
export function readSingle(bytes: Uint8Array, expectedTag?: number): DerElement {
  const { element, next } = readElement(bytes, 0);
  if (next !== bytes.length) throw new DerError("trailing data after DER element");
  if (expectedTag !== undefined) expectTag(element, expectedTag);
  return element;
}

/** The child elements of a constructed element. */
export function children(element: DerElement): DerElement[] {
  if (!element.constructed) throw new DerError("expected a constructed DER element");
  const out: DerElement[] = [];
  for (let offset = 0; offset < element.content.length;) {
    const { element: child, next } = readElement(element.content, offset);
    out.push(child);
    offset = next;
  }
  return out;
}

/** Throws unless `element` has tag `tag`. */
export function expectTag(element: DerElement, tag: number): DerElement {
  if (element.tag !== tag) {
    throw new DerError(
      `expected DER tag 0x${tag.toString(16)}, found 0x${element.tag.toString(16)}`,
    );
  }
  return element;
}

/** Dotted form of an OBJECT IDENTIFIER element. */
export function readOid(element: DerElement): string {
  expectTag(element, Tag.OID);
  const bytes = element.content;
  if (bytes.length === 0 || bytes[bytes.length - 1] & 0x80) throw new DerError("malformed OID");
  const arcs: bigint[] = [];
  let value = 0n;
  for (const b of bytes) {
    value = (value << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(value);
      value = 0n;
    }
  }
  const first = arcs[0] < 40n ? 0n : arcs[0] < 80n ? 1n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join(".");
}

/** Content of a BIT STRING with zero unused bits (keys and signatures). */
export function readBitStringBytes(element: DerElement): Uint8Array {
  expectTag(element, Tag.BIT_STRING);
  if (element.content.length === 0 || element.content[0] !== 0) {
    throw new DerError("expected a BIT STRING with no unused bits");
  }
  return element.content.subarray(1);
}

/** Unsigned big-endian magnitude of a non-negative INTEGER (no sign octet). */
export function readUnsignedInteger(element: DerElement): Uint8Array {
  expectTag(element, Tag.INTEGER);
  const c = element.content;
  if (c.length === 0) throw new DerError("empty INTEGER");
  if (c[0] & 0x80) throw new DerError("negative INTEGER");
  return c.length > 1 && c[0] === 0 ? c.subarray(1) : c;
}

/** A UTCTime or GeneralizedTime element as a Date (UTC, "Z" form as RFC 5280 requires). */
export function readTime(element: DerElement): Date {
  const text = fromUtf8(element.content);
  let match: RegExpMatchArray | null;
  let year: number;
  if (element.tag === Tag.UTC_TIME) {
    match = text.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!match) throw new DerError(`malformed UTCTime "${text}"`);
    const yy = Number(match[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 4.1.2.5.1
  } else if (element.tag === Tag.GENERALIZED_TIME) {
    match = text.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!match) throw new DerError(`malformed GeneralizedTime "${text}"`);
    year = Number(match[1]);
  } else {
    throw new DerError(`expected a time, found tag 0x${element.tag.toString(16)}`);
  }
  const [month, day, hour, minute, second] = match.slice(2).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59) {
    throw new DerError(`time "${text}" is not a valid calendar date`);
  }
  return date;
}
