/**
 * The connection pool of a PostgreSQL store: reads retried past broken
 * connections, writes with translated errors, and tracking of running
 * operations so closing can wait for them.
 *
 * @module
 */
import {
  isConnectionLost,
  type PostgresClient,
  translatePostgresError,
  unavailable,
} from "./client.ts";
import type { PgRow } from "./rows.ts";

/** The pool with the store's read and write discipline. */
export class PostgresDb {
  readonly #sql: PostgresClient;
  readonly #target: string;
  readonly #readRetries: number;
  readonly #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;

  /** `target` names the database in errors; `poolSize` bounds read retries. */
  constructor(sql: PostgresClient, target: string, poolSize: number) {
    this.#sql = sql;
    this.#target = target;
    this.#readRetries = 2 * Math.max(1, Math.min(poolSize, 16));
  }

  /** Tracks `op` so {@link close} can wait for it. */
  #track<T>(op: Promise<T>): Promise<T> {
    this.#inflight.add(op);
    const done = () => void this.#inflight.delete(op);
    op.then(done, done);
    return op;
  }

  /**
   * Runs `fn`, again on the next connection while the one it got turns out
   * broken. Idle pooled connections are taken before new ones are opened,
   * so this walks past every dead connection of the pool. Each retry first
   * yields to the event loop so the client can see the sockets that closed.
   */
  async #retrying<T>(fn: (sql: PostgresClient) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        return await fn(this.#sql);
      } catch (error) {
        if (attempt >= this.#readRetries || !isConnectionLost(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, attempt === 0 ? 0 : 5));
      }
    }
  }

  /** Runs a read, retrying past broken connections. */
  read<T>(fn: (sql: PostgresClient) => Promise<T>): Promise<T> {
    return this.#track(
      this.#retrying(fn).catch((error) => {
        throw translatePostgresError(error, "read", this.#target);
      }),
    );
  }

  /**
   * Runs a write; conflicts and connection failures are translated, never
   * retried (it may have committed). After a broken connection the pool is
   * swept with `SELECT 1` before the error is reported, so the next
   * operation finds live connections.
   */
  write<T>(what: string, fn: (sql: PostgresClient) => Promise<T>): Promise<T> {
    return this.#track((async () => {
      try {
        return await fn(this.#sql);
      } catch (error) {
        // The sweep only refreshes pooled connections; if it fails too, the write's own
        // error (reported below) already says the store is unreachable.
        if (isConnectionLost(error)) await this.#retrying((sql) => sql`SELECT 1`).catch(() => {});
        throw translatePostgresError(error, what, this.#target);
      }
    })());
  }

  /** The rows of a read. */
  async rows(query: (sql: PostgresClient) => Promise<PgRow[]>): Promise<PgRow[]> {
    return await this.read(query);
  }

  /**
   * Waits for the running operations, then closes every connection.
   * Idempotent; operations started afterwards fail with StoreUnavailableError.
   */
  close(): Promise<void> {
    // The client's own graceful end can wait forever on a connection whose
    // query failed with ECONNRESET (it keeps that query as current), so the
    // store waits for its own operations and then ends without grace.
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inflight]);
      await this.#sql.end({ timeout: 0 }).catch((error) => {
        throw unavailable(error, this.#target);
      });
    })();
    return this.#closing;
  }
}
