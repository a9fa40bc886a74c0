/**
 * Narrowing shared by both stores' row mappers: the corruption error and the
 * column readers whose rule is the same in SQLite and PostgreSQL. Readers
 * whose types differ per dialect (integers, bytes, dates, JSON) stay in
 * `sqlite/rows.ts` and `postgres/rows.ts`; the record mappers over them are
 * `row_records.ts`.
 *
 * @module
 */

/** Stored data does not have the shape the schema promises. */
export class StoreCorruptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreCorruptionError";
  }
}

/** Throws the {@link StoreCorruptionError} for `column` not holding `expected`. */
export function corrupt(column: string, expected: string): never {
  throw new StoreCorruptionError(`column ${column}: expected ${expected}`);
}

/** TEXT column. */
export function text(row: Readonly<Record<string, unknown>>, column: string): string {
  const v = row[column];
  return typeof v === "string" ? v : corrupt(column, "text");
}

/** Nullable TEXT column. */
export function textOrNull(row: Readonly<Record<string, unknown>>, column: string): string | null {
  const v = row[column];
  return v === null ? null : typeof v === "string" ? v : corrupt(column, "text or null");
}
