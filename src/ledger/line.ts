/**
 * One line of the file ledger, written and read back:
 *
 * ```text
 * {"digest":"<64 hex>","metadata":{…},"prev":"<64 hex>","recorded_at":"<RFC 3339>","seq":N}\n
 * ```
 *
 * Keys are in sorted order as upstream writes them. `seq` counts records
 * from 1 (so it equals the line number in an intact file) and `prev` is the
 * BLAKE3 of the previous line's bytes, excluding its newline (64 zeros for
 * the first record). Together they make any change, removal or reordering of
 * a line before the last one detectable.
 *
 * @module
 */
import { blake3, toHex, utf8 } from "../crypto/mod.ts";
import { canonicalJson, rfc3339 } from "./canonical.ts";

/** `prev` of the first record. */
export const GENESIS_PREV = "0".repeat(64);

/** The chain fields of a parsed line. */
export interface LedgerLineFields {
  seq: number;
  prev: string;
  digest: string;
  recordedAt: string;
  metadata: Record<string, unknown>;
}

/** Encodes one record as line bytes, without the trailing newline. */
export function encodeLedgerLine(record: {
  seq: number;
  prev: string;
  digest: Uint8Array;
  recordedAt: Date;
  metadata: Record<string, unknown>;
}): Uint8Array {
  return encodePreparedLine({ ...record, metadataJson: canonicalJson(record.metadata) });
}

/** {@link encodeLedgerLine} with the metadata already in canonical JSON. */
export function encodePreparedLine(record: {
  seq: number;
  prev: string;
  digest: Uint8Array;
  recordedAt: Date;
  metadataJson: string;
}): Uint8Array {
  return utf8(
    `{"digest":"${toHex(record.digest)}","metadata":${record.metadataJson},` +
      `"prev":"${record.prev}","recorded_at":"${rfc3339(record.recordedAt)}",` +
      `"seq":${record.seq}}`,
  );
}

/** The value the next line's `prev` must hold. */
export function lineHash(line: Uint8Array): string {
  return toHex(blake3(line));
}

const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const KEYS = ["digest", "metadata", "prev", "recorded_at", "seq"];
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses and checks the shape of one line (no newline); a reason when it is not a record. */
export function parseLedgerLine(
  line: Uint8Array,
): { ok: true; fields: LedgerLineFields } | { ok: false; reason: string } {
  if (line.length === 0) return { ok: false, reason: "empty line" };
  let text: string;
  try {
    text = decoder.decode(line);
  } catch {
    return { ok: false, reason: "not valid UTF-8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "not a JSON object" };
  }
  const record = value as Record<string, unknown>;
  for (const key of KEYS) {
    if (!(key in record)) return { ok: false, reason: `missing "${key}"` };
  }
  for (const key of Object.keys(record)) {
    if (!KEYS.includes(key)) return { ok: false, reason: `unexpected key "${key}"` };
  }
  const { digest, metadata, prev, recorded_at: recordedAt, seq } = record;
  if (typeof digest !== "string" || !HEX64.test(digest)) {
    return { ok: false, reason: "digest is not 64 lowercase hex digits" };
  }
  if (typeof prev !== "string" || !HEX64.test(prev)) {
    return { ok: false, reason: "prev is not 64 lowercase hex digits" };
  }
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
    return { ok: false, reason: "seq is not a positive integer" };
  }
  if (
    typeof recordedAt !== "string" || !RFC3339.test(recordedAt) ||
    Number.isNaN(Date.parse(recordedAt))
  ) {
    return { ok: false, reason: "recorded_at is not an RFC 3339 time" };
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return { ok: false, reason: "metadata is not a JSON object" };
  }
  return {
    ok: true,
    fields: { seq, prev, digest, recordedAt, metadata: metadata as Record<string, unknown> },
  };
}
