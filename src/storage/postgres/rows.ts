/**
 * Narrowing of PostgreSQL rows (as the `postgres` client parses them): the
 * PostgreSQL column readers, and the record mappers of `../row_records.ts`
 * over them. The client is configured by `client.ts` to return
 * BIGINT as `bigint`, BYTEA as a plain `Uint8Array`, TIMESTAMPTZ as `Date`
 * and JSONB parsed. Anything else means the schema is not the one this code
 * was written for: that is a {@link StoreCorruptionError}, never a silent
 * `undefined`.
 *
 * @module
 */

import { corrupt as bad, text as pgText, textOrNull as pgTextOrNull } from "../row_narrowing.ts";
import { type RowRecords, rowRecords } from "../row_records.ts";
import type { StoredEnvelope } from "../store.ts";

export { pgText, pgTextOrNull };

/** A row as the client returns it (a parsing boundary: values are narrowed below). */
export type PgRow = Record<string, unknown>;

/** INTEGER or BIGINT column as a number (must be a safe integer). */
export function pgInt(row: PgRow, column: string): number {
  const v = row[column];
  const n = typeof v === "bigint" ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : bad(column, "a safe integer");
}

/** BIGINT column as a bigint. */
export function pgBigint(row: PgRow, column: string): bigint {
  const v = row[column];
  return typeof v === "bigint" ? v : bad(column, "bigint");
}

/** BYTEA column. */
export function pgBytes(row: PgRow, column: string): Uint8Array {
  const v = row[column];
  return v instanceof Uint8Array ? v : bad(column, "bytea");
}

/** Nullable BYTEA column. */
export function pgBytesOrNull(row: PgRow, column: string): Uint8Array | null {
  const v = row[column];
  return v === null ? null : v instanceof Uint8Array ? v : bad(column, "bytea or null");
}

/** TIMESTAMPTZ column. */
export function pgDate(row: PgRow, column: string): Date {
  const v = row[column];
  return v instanceof Date && !Number.isNaN(v.getTime()) ? v : bad(column, "timestamptz");
}

/** BOOLEAN column. */
export function pgBool(row: PgRow, column: string): boolean {
  const v = row[column];
  return typeof v === "boolean" ? v : bad(column, "boolean");
}

/** `d`, refusing an invalid Date before it reaches SQL (same rule as the SQLite store). */
export function validDate(d: Date): Date {
  if (Number.isNaN(d.getTime())) throw new TypeError("invalid Date");
  return d;
}

/**
 * The shared record mappers over PostgreSQL's readers. JSONB arrives parsed
 * from the client, so the JSON reader only hands the value on; the mappers
 * check its shape.
 */
export const pgRecords: RowRecords = rowRecords({
  int: pgInt,
  bytes: pgBytes,
  bytesOrNull: pgBytesOrNull,
  date: pgDate,
  json: (row, column) => row[column],
});

/** relay_queue row (position, envelope_id, payload, deliver_after, expires_at) → envelope. */
export function pgEnvelope(row: PgRow, deviceId: string): StoredEnvelope {
  return {
    position: pgBigint(row, "position"),
    envelopeId: pgText(row, "envelope_id"),
    deviceId,
    payload: pgBytes(row, "payload"),
    deliverAfter: pgDate(row, "deliver_after"),
    expiresAt: pgDate(row, "expires_at"),
  };
}
