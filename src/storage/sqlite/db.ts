/**
 * The open SQLite database of a store: cached prepared statements, write
 * transactions, and the promise wrappers every store method runs through
 * (`node:sqlite` is synchronous; its errors become rejections).
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import type { Row } from "./rows.ts";
import { StoreConflictError } from "../store.ts";

// SQLite extended result codes that mean "this would duplicate or orphan a row".
const CONFLICT_CODES = new Set([
  787, // SQLITE_CONSTRAINT_FOREIGNKEY
  1555, // SQLITE_CONSTRAINT_PRIMARYKEY
  2067, // SQLITE_CONSTRAINT_UNIQUE
]);

function asConflict(error: unknown, what: string): unknown {
  if (error instanceof Error && "errcode" in error && CONFLICT_CODES.has(Number(error.errcode))) {
    // The SQLite message names columns, never values, so it is safe to pass on.
    return new StoreConflictError(`${what}: ${error.message}`);
  }
  return error;
}

/** A write waiting for its group's transaction ({@link SqliteDb.groupedWrite}). */
interface GroupedWrite {
  what: string;
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** An open database with its statement cache. */
export class SqliteDb {
  /** The database itself (for the federation statements). */
  readonly raw: DatabaseSync;
  /**
   * The offline-queue read, prepared up front: it reads positions as bigints.
   * Its limit is `CAST(? AS INTEGER)`, not a bare `LIMIT ?`: SQLite (3.53 here)
   * marks a bare bound LIMIT as plan-relevant, so every new binding expired the
   * statement and each run compiled it again (27 vs 5.5 CPU-µs per empty read,
   * one per established session).
   */
  readonly loadOfflineQueue: StatementSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.raw = db;
    this.loadOfflineQueue = db.prepare(
      `SELECT position, envelope_id, payload, deliver_after, expires_at FROM relay_queue
       WHERE device_id = ? AND position > ? AND deliver_after <= ? AND expires_at > ?
       ORDER BY position LIMIT CAST(? AS INTEGER)`,
    );
    this.loadOfflineQueue.setReadBigInts(true);
  }

  /** The cached prepared statement for `sql`. */
  sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.raw.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `sql`; the number of changed rows. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.sql(sql).run(...params).changes);
  }

  /** The first row of `sql`, if any. */
  get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.sql(sql).get(...params);
  }

  /** Every row of `sql`. */
  all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.sql(sql).all(...params);
  }

  /** Runs `fn` in a write transaction; rolls back and rethrows on error. */
  transaction<T>(fn: () => T): T {
    this.sql("BEGIN IMMEDIATE").run();
    try {
      const result = fn();
      this.sql("COMMIT").run();
      return result;
    } catch (error) {
      if (this.raw.isTransaction) this.sql("ROLLBACK").run();
      throw error;
    }
  }

  /**
   * Group commit: the first grouped write of an event-loop turn commits at
   * once; the others of that turn wait for its end and then run in one write
   * transaction. Every promise
   * settles only after the shared COMMIT returned, so a caller acting on the
   * result (the handshake's Ack) acts on committed rows, with the durability
   * of {@link transaction} (see the module doc of `store.ts`). When anything
   * in the group throws (a constraint conflict, a full disk), the whole
   * transaction is rolled back and each write runs again alone, in order, in
   * its own transaction: a conflict then fails only its own write (as
   * {@link StoreConflictError}), with nothing of it written.
   *
   * Optimistic rather than a savepoint per write: conflicts are rare, and a
   * SAVEPOINT and RELEASE around each write cost ~75 CPU-µs per registration (measured
   * with `bench/handshake_store.ts --concurrency 16`: 151 vs 76 µs).
   * Nothing is held back beyond the turn: the flush is a `setImmediate`
   * (after the turn's I/O callbacks, ~2 µs), not a timer (a 0 ms timer waits
   * ~2 ms here and costs ~40 CPU-µs to wake).
   *
   * Why: a WAL commit costs about two `pwrite`s per page it touched, and the
   * handshakes of one turn touch many of the same pages (the ends of the
   * rowid tables and time indexes, the upper B-tree levels, page 1).
   * `fn` must have no effect but its statements: it may run twice.
   */
  groupedWrite<T>(what: string, fn: () => T): Promise<T> {
    if (!this.#turnWritten) {
      // The turn's first write commits at once, as a plain transaction: a lone
      // handshake pays nothing for the grouping. Later ones in this turn wait.
      this.#turnWritten = true;
      setImmediate(this.#endTurn);
      return this.write(what, () => this.transaction(fn));
    }
    return new Promise<T>((resolve, reject) => {
      this.#group.push({ what, fn, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #group: GroupedWrite[] = [];
  /** True from a turn's first grouped write until its `setImmediate`. */
  #turnWritten = false;
  readonly #endTurn = (): void => {
    this.#turnWritten = false;
    if (this.#group.length > 0) this.#flushGroup();
  };

  #flushGroup(): void {
    const group = this.#group;
    this.#group = [];
    if (group.length === 1) {
      const only = group[0];
      this.write(only.what, () => this.transaction(only.fn)).then(only.resolve, only.reject);
      return;
    }
    let values: unknown[];
    try {
      // Optimistic: all in one transaction with no savepoint (conflicts are rare).
      values = this.transaction(() => group.map((write) => write.fn()));
    } catch {
      // Something failed: the group was rolled back whole. Each write again, alone.
      for (const write of group) {
        this.write(write.what, () => this.transaction(write.fn)).then(write.resolve, write.reject);
      }
      return;
    }
    group.forEach((write, i) => write.resolve(values[i]));
  }

  /** Runs `fn` turning constraint conflicts into {@link StoreConflictError}. */
  write<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(asConflict(error, what));
    }
  }

  /** Runs `fn`; a throw becomes a rejection. */
  read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes the database (again: a no-op). */
  close(): Promise<void> {
    return this.read(() => {
      if (!this.raw.isOpen) return;
      // Writes still waiting for their turn's group are committed, not dropped.
      if (this.#group.length > 0) this.#flushGroup();
      this.#statements.clear();
      this.raw.close();
    });
  }
}
