/**
 * Canonical JSON for ledger metadata: object keys sorted (UTF-16 code unit
 * order, recursively), no whitespace, so the same metadata always hashes to
 * the same digest. Upstream serialises through a sorted map, hence the order.
 *
 * @module
 */
import { toHex } from "../crypto/mod.ts";

/** Metadata that cannot be written as JSON (a cycle, a non-finite number). */
export class LedgerMetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LedgerMetadataError";
  }
}

/**
 * `value` as canonical JSON. Beyond plain JSON: `bigint` becomes a decimal
 * string, `Uint8Array` lowercase hex, `Date` its ISO time (via `toJSON`);
 * `undefined`, functions and symbols are dropped from objects and become
 * `null` in arrays, as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value, new Set());
  if (out === undefined) throw new LedgerMetadataError("metadata is not representable as JSON");
  return out;
}

function encode(value: unknown, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) {
        throw new LedgerMetadataError("metadata holds a non-finite number");
      }
      return JSON.stringify(value);
    case "bigint":
      return JSON.stringify(value.toString());
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return "null";
  if (value instanceof Uint8Array) return JSON.stringify(toHex(value));
  const object = value as object;
  if (seen.has(object)) throw new LedgerMetadataError("metadata contains a cycle");
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
    return encode((object as { toJSON(): unknown }).toJSON(), seen);
  }
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item) => encode(item, seen) ?? "null").join(",")}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(object).sort()) {
      const item = encode((object as Record<string, unknown>)[key], seen);
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    seen.delete(object);
  }
}

/** RFC 3339 in UTC with milliseconds and an explicit `+00:00` offset, like upstream. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/Z$/, "+00:00");
}
