/**
 * Unsigned LEB128 varints as used by CCP-1: 7 data bits per byte, least
 * significant group first, `0x80` marks a continuation byte.
 *
 * Values are JS numbers. Encoding accepts any safe integer (0 ..= 2^53-1).
 * Decoding follows upstream: at most 10 bytes, a 10th byte that still has the
 * continuation bit is a {@linkcode CodecError} `VarintOverflow`. Decoded values
 * above 2^53-1 cannot be represented exactly; they are returned rounded but
 * never below 2^53, so comparisons against protocol limits stay correct.
 *
 * @module
 */

import { CodecError } from "./errors.ts";

/** Longest varint accepted on the wire (10 bytes carry 64 bits). */
export const MAX_VARINT_BYTES = 10;

/** A decoded varint: its value and how many bytes it occupied. */
export interface VarintRead {
  /** The decoded value (exact up to 2^53-1). */
  value: number;
  /** Bytes consumed, 1..=10. */
  length: number;
}

function assertEncodable(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`varint value must be a non-negative safe integer, got ${value}`);
  }
}

/** Number of bytes the varint encoding of `value` takes. */
export function varintLength(value: number): number {
  assertEncodable(value);
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length++;
  }
  return length;
}

/**
 * Writes the varint encoding of `value` into `target` at `offset` and returns
 * the offset just past it. `target` must have room (see {@linkcode varintLength}).
 */
export function writeVarint(value: number, target: Uint8Array, offset: number): number {
  assertEncodable(value);
  // Division keeps values above 2^31 exact, where bitwise operators would not.
  while (value >= 0x80) {
    target[offset++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset++] = value;
  return offset;
}

/** The varint encoding of `value` as a new array. */
export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(value, out, 0);
  return out;
}

/**
 * Decodes a varint from `buf[offset..end)`.
 *
 * Returns `null` when the bytes end before the varint does ("need more"), and
 * throws {@linkcode CodecError} `VarintOverflow` when the 10th byte still has
 * the continuation bit. Non-minimal encodings (e.g. `80 00` for 0) are accepted,
 * as upstream does.
 */
export function decodeVarint(
  buf: Uint8Array,
  offset = 0,
  end: number = buf.length,
): VarintRead | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (offset + i >= end) return null;
    const byte = buf[offset + i];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
    scale *= 0x80;
  }
  throw new CodecError("VarintOverflow");
}

/** Where the last {@linkcode readVarint} that found a whole varint ended. */
let lastEnd = 0;

/**
 * {@linkcode decodeVarint} without a result object, for decoders that run
 * per frame: the value, or -1 when the bytes end before the varint does;
 * {@linkcode readVarintEnd} then gives the offset just past it (read it
 * before the next call). Same errors.
 */
export function readVarint(buf: Uint8Array, offset: number, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (offset + i >= end) return -1;
    const byte = buf[offset + i];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      lastEnd = offset + i + 1;
      return value;
    }
    scale *= 0x80;
  }
  throw new CodecError("VarintOverflow");
}

/** The offset just past the varint the last successful {@linkcode readVarint} read. */
export function readVarintEnd(): number {
  return lastEnd;
}
