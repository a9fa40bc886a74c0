/**
 * Narrowing of `node:sqlite` row values: the SQLite column readers, and the
 * record mappers of `../row_records.ts` over them. A value of the wrong type
 * means the file was written by something else: that is a
 * {@link StoreCorruptionError}, never a silent `undefined`.
 *
 * @module
 */

import type { SQLOutputValue } from "node:sqlite";
import { corrupt as bad, text } from "../row_narrowing.ts";
import { type RowRecords, rowRecords } from "../row_records.ts";

export { StoreCorruptionError, text, textOrNull } from "../row_narrowing.ts";

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, SQLOutputValue>;

/** INTEGER column as a number (read as number or bigint). */
export function int(row: Row, column: string): number {
  const v = row[column];
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return bad(column, "integer");
}

/** BLOB column. */
export function blob(row: Row, column: string): Uint8Array {
  const v = row[column];
  return v instanceof Uint8Array ? v : bad(column, "blob");
}

/** Nullable BLOB column. */
export function blobOrNull(row: Row, column: string): Uint8Array | null {
  const v = row[column];
  return v === null ? null : v instanceof Uint8Array ? v : bad(column, "blob or null");
}

/** INTEGER unix-milliseconds column. */
export function date(row: Row, column: string): Date {
  return new Date(int(row, column));
}

/** Unix milliseconds of `d`; an invalid Date is rejected before it reaches SQL. */
export function ms(d: Date): number {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new TypeError("invalid Date");
  return t;
}

/**
 * The shared record mappers over SQLite's readers. JSON is stored as TEXT
 * and parsed here; a value that is not text or does not parse is reported as
 * not holding the JSON the mapper expects.
 */
export const sqliteRecords: RowRecords = rowRecords({
  int,
  bytes: blob,
  bytesOrNull: blobOrNull,
  date,
  json: (row, column, expected) => {
    try {
      return JSON.parse(text(row, column));
    } catch {
      return bad(column, expected);
    }
  },
});
