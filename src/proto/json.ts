/**
 * Control payload JSON: strict parsing that keeps large integers exact, and
 * compact serialisation.
 *
 * Integers outside the safe range (|n| > 2^53-1) decode as `bigint`, so u64
 * values such as certificate serials survive a decode/encode round trip;
 * {@linkcode stringifyControlJson} writes a `bigint` back as a bare integer.
 *
 * @module
 */

import { CodecError } from "./errors.ts";

/**
 * Deepest nesting of arrays/objects accepted in a control payload. serde_json,
 * which upstream uses, refuses the 128th level.
 */
export const MAX_CONTROL_JSON_DEPTH = 127;

// fatal: invalid UTF-8 is an error (serde_json rejects it too);
// ignoreBOM: keep a leading BOM so that JSON.parse rejects it, as serde_json does.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * An integer beyond 2^53-1 needs 16+ digits right after a JSON delimiter; only
 * then is the (slower) reviver used. Digit runs inside strings rarely match.
 */
const LONG_DIGITS = /(?:^|[[,:\s])-?[0-9]{16}/;
const INTEGER_SOURCE = /^-?[0-9]+$/;

/** V8's JSON.parse source-text access: the reviver's third argument. */
interface ReviverContext {
  source?: string;
}

function keepLargeIntegers(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (
    typeof value === "number" && !Number.isSafeInteger(value) &&
    context?.source !== undefined && INTEGER_SOURCE.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
}

/** True when brackets nest deeper than `max` (strings are skipped). */
function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  if (bytes.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** Payloads up to this length that are all ASCII skip TextDecoder (see {@link controlText}). */
const SHORT_ASCII = 256;

/**
 * The text of a control payload. A short ASCII one (every Ack, most control
 * frames) is read byte by byte: TextDecoder is a call into the runtime that
 * costs more than the JSON.parse after it at these sizes. ASCII is valid
 * UTF-8 and has no BOM, so the text is the decoder's.
 */
function controlText(bytes: Uint8Array): string {
  if (bytes.length <= SHORT_ASCII) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return decoder.decode(bytes);
}

/** `{"ack":` as bytes: the prefix of the plain Ack every delivered message draws. */
const ACK_PREFIX = [0x7b, 0x22, 0x61, 0x63, 0x6b, 0x22, 0x3a];
/** Digits the fast path reads: 15 stay below 2^53 and below {@link LONG_DIGITS}' 16. */
const ACK_MAX_DIGITS = 15;

/** `,"upto":true}`: the tail of the cumulative Ack (server → client, one per turn). */
const UPTO_TAIL = [0x2c, 0x22, 0x75, 0x70, 0x74, 0x6f, 0x22, 0x3a, 0x74, 0x72, 0x75, 0x65, 0x7d];

/**
 * `{ack: n}` when `bytes` are exactly `{"ack":<digits>}`, `{ack: n, upto:
 * true}` when exactly `{"ack":<digits>,"upto":true}` (no whitespace, no
 * sign, no leading zero, at most {@link ACK_MAX_DIGITS} digits), else null.
 * JSON.parse gives the same value for those forms; anything else (including
 * what it rejects) goes to it. One plain Ack per delivered 1:1 message, one
 * cumulative Ack per turn back: decoding the text and JSON.parse cost ~10×
 * this byte check.
 */
function plainAck(bytes: Uint8Array): { ack: number; upto?: true } | null {
  const first = ACK_PREFIX.length;
  if (bytes.length < first + 2 || bytes[bytes.length - 1] !== 0x7d) return null;
  for (let i = 0; i < first; i++) {
    if (bytes[i] !== ACK_PREFIX[i]) return null;
  }
  let value = 0;
  let end = first;
  for (; end < bytes.length && end - first <= ACK_MAX_DIGITS; end++) {
    const digit = bytes[end] - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  const digits = end - first;
  if (digits < 1 || digits > ACK_MAX_DIGITS) return null;
  if (bytes[first] === 0x30 && digits > 1) return null; // a leading zero: JSON refuses it
  if (end === bytes.length - 1) return { ack: value };
  if (bytes.length - end !== UPTO_TAIL.length) return null;
  for (let i = 0; i < UPTO_TAIL.length; i++) {
    if (bytes[end + i] !== UPTO_TAIL[i]) return null;
  }
  return { ack: value, upto: true };
}

/**
 * Parses a control payload: strict UTF-8, any JSON value, nesting at most
 * {@linkcode MAX_CONTROL_JSON_DEPTH}. Throws {@linkcode CodecError}
 * `InvalidControlJson` otherwise. Size limits are the caller's concern.
 */
export function parseControlJson(bytes: Uint8Array): unknown {
  const ack = plainAck(bytes);
  if (ack !== null) return ack;
  if (nestsDeeperThan(bytes, MAX_CONTROL_JSON_DEPTH)) {
    throw new CodecError("InvalidControlJson");
  }
  try {
    const text = controlText(bytes);
    return LONG_DIGITS.test(text)
      ? JSON.parse(text, keepLargeIntegers as (key: string, value: unknown) => unknown)
      : JSON.parse(text);
  } catch {
    throw new CodecError("InvalidControlJson");
  }
}

/** `JSON.rawJSON` (V8, ES2026), not yet in the TypeScript lib. */
const json = JSON as JSON & { rawJSON(text: string): unknown };

function bigintAsRawJson(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? json.rawJSON(value.toString()) : value;
}

/**
 * Compact JSON encoding of `value` as UTF-8 (like `serde_json::to_vec`);
 * `bigint` values are written as integers. Throws `TypeError` for values JSON
 * cannot represent (`undefined`, functions, cycles).
 */
export function stringifyControlJson(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // Only a bigint somewhere in the value warrants the slower replacer pass.
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
    text = JSON.stringify(value, bigintAsRawJson);
  }
  if (text === undefined) throw new TypeError("control value is not representable as JSON");
  return encoder.encode(text);
}
