/**
 * The JSON text upstream signs: `serde_json::Value::to_string()` without the
 * `preserve_order` feature — compact, object keys sorted by their UTF-8
 * bytes (a `BTreeMap<String, Value>`), recursively.
 *
 * Numbers are where JavaScript and serde disagree, so they follow serde:
 *
 * - An integer in the i64/u64 range prints plainly (`1`, `-7`,
 *   `18446744073709551615`); `-0` is a float to serde and prints `-0.0`.
 * - Every other number is an f64 printed the way `ryu` does (shortest
 *   round-trip digits): `1.0`, `0.1`, `1e-7`, `1.5e300`, `12345678901234567.0`
 *   → `1.2345678901234568e16`.
 *
 * A number parsed from received JSON keeps its source text
 * ({@link JsonNumber}), so `1.0` stays a float and `1` an integer exactly as
 * serde saw them. A plain JS `number` is an integer when it is a safe integer,
 * else an f64. Floats assume correctly rounded parsing; serde_json without
 * its `float_roundtrip` feature may differ in the last bit for some 17-digit
 * inputs — our own events carry no floats.
 *
 * @module
 */

/** A JSON number kept as the exact text it was written with. */
export class JsonNumber {
  /** The number's source text, e.g. `1.0` or `-12e3`. */
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
}

/** A JSON value whose numbers may keep their source text. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonNumber
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Something the canonical form cannot express (NaN, a lone surrogate, a function…). */
export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalJsonError";
  }
}

/** Parses JSON text, keeping every number as a {@link JsonNumber}. Throws SyntaxError. */
export function parseJsonKeepingNumbers(text: string): JsonValue {
  return JSON.parse(
    text,
    (_key, value, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined
        ? new JsonNumber(context.source)
        : value,
  ) as JsonValue;
}

/** `value` as serde_json's compact, key-sorted text (see the module doc). */
export function canonicalJson(value: JsonValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return jsonString(value);
    case "number":
      return Number.isSafeInteger(value) && !Object.is(value, -0)
        ? String(value)
        : formatF64(value);
    case "bigint":
      return integer(value) ?? formatF64(Number(value));
    case "object":
      break;
    default:
      throw new CanonicalJsonError(`cannot encode a ${typeof value}`);
  }
  if (value instanceof JsonNumber) return numberFromSource(value.source);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    throw new CanonicalJsonError("only plain objects can be encoded");
  }
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort(compareCodePoints);
  return `{${keys.map((k) => `${jsonString(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

function integer(n: bigint): string | null {
  return n >= I64_MIN && n <= U64_MAX ? n.toString() : null;
}

function numberFromSource(source: string): string {
  if (/^-?(?:0|[1-9][0-9]*)$/.test(source)) {
    if (source === "-0") return "-0.0";
    const asInteger = integer(BigInt(source));
    if (asInteger !== null) return asInteger;
  } else if (!/^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/.test(source)) {
    throw new CanonicalJsonError(`not a JSON number: ${source}`);
  }
  return formatF64(Number(source));
}

/** An f64 as `ryu` (serde_json) prints it. */
export function formatF64(x: number): string {
  if (!Number.isFinite(x)) throw new CanonicalJsonError("non-finite numbers are not JSON");
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  // value = digits × 10^exponent; 10^(kk-1) <= value < 10^kk
  const exponent = Number(exp) - (length - 1);
  const kk = length + exponent;
  let out: string;
  if (exponent >= 0 && kk <= 16) out = `${digits}${"0".repeat(exponent)}.0`;
  else if (kk > 0 && kk <= 16) out = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) out = `0.${"0".repeat(-kk)}${digits}`;
  else if (length === 1) out = `${digits}e${kk - 1}`;
  else out = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  return sign + out;
}

/** serde_json escapes exactly what JSON.stringify does, but has no lone surrogates. */
function jsonString(s: string): string {
  if (!s.isWellFormed()) throw new CanonicalJsonError("string holds a lone surrogate");
  return JSON.stringify(s);
}

/** Code point order of UTF-16 strings, which is the byte order of their UTF-8. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

// Surrogates (D800–DFFF) encode code points above every BMP unit (E000–FFFF).
function fixup(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;
}
