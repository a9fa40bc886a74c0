/**
 * The networked store: PostgreSQL through the npm `postgres` client, with a
 * connection pool.
 *
 * Availability: a connection that breaks (server restart, failover,
 * `pg_terminate_backend`) is replaced by the pool on the next query; no
 * restart is needed. A read that hit a broken connection is retried on
 * another (at most once per pooled connection, since each may be dead); a
 * write is not (it may have committed), so it fails with
 * {@link StoreUnavailableError}, as does anything while the server is down.
 *
 * Ordering: where the SQLite store breaks ties by rowid (group members with
 * the same `joinedAt`, key events with the same `recordedAt`), this store
 * uses the physical row order (`ctid`), which follows insertion order except
 * after a row is updated or its space reused.
 *
 * @module
 */

import { formatVersion, type MigrationFile, type MigrationProgress } from "../migrations.ts";
import {
  createPostgresClient,
  describePostgresTarget,
  type PostgresClient,
  type PostgresConnectOptions,
  translatePostgresError,
} from "./client.ts";
import { postgresMigrationRunner } from "./migrations.ts";
import { SchemaNotCurrentError } from "../errors.ts";
import { postgresFederation } from "./federation.ts";
import { PostgresDb } from "./db.ts";
import { type DomainOps, DomainStore } from "../domain_store.ts";
import * as accounts from "./accounts.ts";
import * as messaging from "./messaging.ts";
import * as keyPackages from "./key_packages.ts";
import * as pqKeys from "./pq_keys.ts";
import * as trust from "./trust.ts";
import type { FederationOutboxRecord, FederationPeerRecord, Store } from "../store.ts";

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreOptions extends PostgresConnectOptions {
  /** Apply pending migrations on open (default false: refuse an outdated schema). */
  migrate?: boolean;
  /**
   * Apply every migration when the schema is brand new (no tables at all),
   * even without `migrate`, so a first start just works. A schema that has
   * tables but is behind still needs `migrate` (default false).
   */
  createIfNew?: boolean;
  /** Progress of migrations applied on open. */
  onMigrationProgress?: (event: MigrationProgress) => void;
  /** Migrations to check against (default: `migrations/postgres/` of this tree). */
  migrations?: URL | readonly MigrationFile[];
}

/** The PostgreSQL schema is behind this binary and migration was not requested. */
export class PostgresSchemaNotCurrentError extends SchemaNotCurrentError {
  constructor(target: string, pending: string[]) {
    super(target, pending);
    this.message = `postgres database ${target} needs ${pending.length} pending migration(s) ` +
      `(${
        pending.join(", ")
      }); run \`commucat migrate\` (or start with \`commucat serve --migrate\`)`;
    this.name = "PostgresSchemaNotCurrentError";
  }
}

/**
 * Connects to `dsn`, checks the schema, and returns the store. Fails with
 * {@link StoreUnavailableError} when the server cannot be reached or refuses
 * the login; migration errors (a changed or unknown migration) are thrown
 * as-is; a merely outdated schema is migrated when `migrate` is set (or when
 * the schema is empty and `createIfNew` is set), else refused with
 * {@link PostgresSchemaNotCurrentError}.
 */
export async function openPostgresStore(
  dsn: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const target = describePostgresTarget(dsn);
  const sql = createPostgresClient(dsn, options);
  try {
    const [row] = await sql`SELECT current_schema() AS schema`;
    if (typeof row?.schema !== "string") {
      throw new Error(
        `postgres database ${target}: no schema of the search_path exists; create it ` +
          `(CREATE SCHEMA …) or fix the search_path`,
      );
    }
    const runner = postgresMigrationRunner(sql, options.migrations);
    const report = await runner.status();
    if (!report.current) {
      const migrate = options.migrate || (options.createIfNew && await isEmpty(sql));
      if (report.changed.length === 0 && report.unknown.length === 0 && !migrate) {
        const pending = report.migrations.filter((m) => m.state === "pending");
        throw new PostgresSchemaNotCurrentError(
          target,
          pending.map((m) => formatVersion(m.version)),
        );
      }
      await runner.migrate({ onProgress: options.onMigrationProgress });
    }
    return new PostgresStore(sql, target, options.poolSize ?? 10);
  } catch (error) {
    // Closing the pool of a failed open: the open's own error (thrown next) is what the
    // caller needs; a failure to close a pool that never worked adds nothing to it.
    await sql.end({ timeout: 0 }).catch(() => {});
    throw translatePostgresError(error, "open", target);
  }
}

async function isEmpty(sql: PostgresClient): Promise<boolean> {
  const [row] = await sql`SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_class
    WHERE relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())
      AND relkind IN ('r', 'p', 'v', 'm')
  ) AS used`;
  return row?.used === false;
}

/** The PostgreSQL functions behind the domain methods. */
const POSTGRES_OPS: DomainOps<PostgresDb> = {
  ...accounts,
  ...messaging,
  ...pqKeys,
  ...keyPackages,
  ...trust,
};

/** {@link Store} on PostgreSQL. Create with {@link openPostgresStore}. */
export class PostgresStore extends DomainStore<PostgresDb> implements Store {
  readonly backend = "postgres";
  readonly #db: PostgresDb;

  /**
   * Wraps a client whose schema is current (use {@link openPostgresStore}).
   * `target` names the database in errors; `poolSize` bounds read retries.
   */
  constructor(sql: PostgresClient, target: string, poolSize = 10) {
    const handle = new PostgresDb(sql, target, poolSize);
    super(handle, POSTGRES_OPS);
    this.#db = handle;
  }

  async ping(): Promise<void> {
    await this.#db.read((sql) => sql`SELECT 1`);
  }

  /**
   * Waits for this store's running operations, then closes every connection.
   * Idempotent; operations started afterwards fail with StoreUnavailableError.
   */
  close(): Promise<void> {
    return this.#db.close();
  }

  // federation

  listFederationPeers(): Promise<FederationPeerRecord[]> {
    return this.#db.read((sql) => postgresFederation.listPeers(sql));
  }

  getFederationPeer(domain: string): Promise<FederationPeerRecord | null> {
    return this.#db.read((sql) => postgresFederation.getPeer(sql, domain));
  }

  upsertFederationPeer(peer: FederationPeerRecord): Promise<void> {
    return this.#db.write(
      "upsert federation peer",
      (sql) => postgresFederation.upsertPeer(sql, peer),
    );
  }

  deleteFederationPeer(domain: string): Promise<boolean> {
    return this.#db.write(
      "delete federation peer",
      (sql) => postgresFederation.deletePeer(sql, domain),
    );
  }

  enqueueFederationOutbox(
    entry: Omit<FederationOutboxRecord, "attempts" | "lastError">,
  ): Promise<void> {
    return this.#db.write("outbox entry exists", (sql) => postgresFederation.enqueue(sql, entry));
  }

  claimFederationOutbox(
    now: Date,
    leaseMs: number,
    limit: number,
  ): Promise<FederationOutboxRecord[]> {
    return this.#db.write(
      "claim federation outbox",
      (sql) => postgresFederation.claim(sql, now, leaseMs, limit),
    );
  }

  completeFederationOutbox(outboxId: string): Promise<boolean> {
    return this.#db.write(
      "complete outbox entry",
      (sql) => postgresFederation.complete(sql, outboxId),
    );
  }

  failFederationOutbox(outboxId: string, error: string, nextAttemptAt: Date): Promise<boolean> {
    return this.#db.write(
      "fail outbox entry",
      (sql) => postgresFederation.fail(sql, outboxId, error, nextAttemptAt),
    );
  }

  listFederationOutbox(limit: number): Promise<FederationOutboxRecord[]> {
    return this.#db.read((sql) => postgresFederation.list(sql, limit));
  }
}
