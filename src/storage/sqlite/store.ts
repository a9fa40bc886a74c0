/**
 * The embedded store: one SQLite file through `node:sqlite`.
 *
 * Durability: the file runs in WAL mode with `synchronous = NORMAL` by
 * default. A commit is then durable against a crash of the process (SIGKILL,
 * panic): the WAL is in the OS page cache and is replayed on next open. Only
 * losing the machine (power cut, kernel crash) can drop the last few commits,
 * never corrupt the file. `synchronous: "full"` fsyncs every commit and closes
 * that window at a cost in write latency. Handshake writes of one
 * event-loop turn share a commit (`SqliteDb.groupedWrite`); each caller is
 * answered only after that commit, so the guarantee is the same.
 *
 * `node:sqlite` is synchronous, so every method runs to completion before it
 * returns its promise; a multi-statement transaction can never interleave
 * with another call on the same store.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { formatVersion, type MigrationFile, type MigrationProgress } from "../migrations.ts";
import { sqliteMigrationRunner } from "./migrations.ts";
import { sqliteFederation } from "./federation.ts";
import { SqliteDb } from "./db.ts";
import { SchemaNotCurrentError } from "../errors.ts";
import { type DomainOps, DomainStore } from "../domain_store.ts";
import * as accounts from "./accounts.ts";
import * as messaging from "./messaging.ts";
import * as keyPackages from "./key_packages.ts";
import * as pqKeys from "./pq_keys.ts";
import * as trust from "./trust.ts";
import {
  checkDatabase,
  checkWal,
  DatabaseCorruptError,
  describeWalDamage,
  type IntegrityLevel,
} from "./integrity.ts";
import type { FederationOutboxRecord, FederationPeerRecord, Store } from "../store.ts";

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Apply pending migrations on open (default false: refuse an outdated schema). */
  migrate?: boolean;
  /**
   * Apply every migration when the database is brand new (no tables at all),
   * even without `migrate`, so a first start just works. A database that
   * exists but is behind still needs `migrate` (default false).
   */
  createIfNew?: boolean;
  /** Progress of migrations applied on open. */
  onMigrationProgress?: (event: MigrationProgress) => void;
  /** `"normal"` (default; see module doc) or `"full"` (fsync per commit). */
  synchronous?: "normal" | "full";
  /**
   * Pages the write-ahead log may hold before a commit copies them into the
   * database (`PRAGMA wal_autocheckpoint`; default {@link WAL_AUTOCHECKPOINT_PAGES}).
   */
  walAutocheckpointPages?: number;
  /** How long a write waits for another connection's lock, in ms (default 5000). */
  busyTimeoutMs?: number;
  /** Migrations to check against (default: `migrations/sqlite/` of this tree). */
  migrations?: URL | readonly MigrationFile[];
  /**
   * Run SQLite's own check after opening: `"quick"` (`PRAGMA quick_check`,
   * what the server does at start), `"full"` (`PRAGMA integrity_check`,
   * `commucat diagnose`). A damaged file is refused with
   * {@link DatabaseCorruptError}. Default: no check.
   */
  integrityCheck?: IntegrityLevel;
  /**
   * Told (one line) when the write-ahead log is damaged, after a copy of it
   * was kept beside the database: SQLite will drop the commits past the
   * damage, so this must reach the operator. Default: standard error.
   */
  onWarning?: (line: string) => void;
}

/**
 * Opens (creating if needed) the SQLite file at `path` (`":memory:"` for a
 * private in-memory database) and checks its schema. Migration errors (a
 * changed or unknown migration) are thrown as-is; a merely outdated schema
 * is migrated when `migrate` is set, else refused with {@link SchemaNotCurrentError}.
 */
export async function openSqliteStore(
  path: string,
  options: SqliteStoreOptions = {},
): Promise<SqliteStore> {
  await checkWalBeforeOpen(path, options.onWarning ?? ((line) => console.error(line)));
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (error) {
    throw asCorruption(error, path);
  }
  try {
    configure(db, path, options);
    if (options.integrityCheck !== undefined) {
      const problems = checkDatabase(db, options.integrityCheck);
      if (problems.length > 0) throw new DatabaseCorruptError(path, problems);
    }
    const runner = sqliteMigrationRunner(db, options.migrations);
    const report = await runner.status();
    if (!report.current) {
      const migrate = options.migrate || (options.createIfNew && isEmpty(db));
      if (report.changed.length === 0 && report.unknown.length === 0 && !migrate) {
        const pending = report.migrations.filter((m) => m.state === "pending");
        throw new SchemaNotCurrentError(path, pending.map((m) => formatVersion(m.version)));
      }
      await runner.migrate({ onProgress: options.onMigrationProgress });
    }
    return new SqliteStore(db);
  } catch (error) {
    db.close();
    throw asCorruption(error, path);
  }
}

/**
 * SQLite recovers a damaged WAL silently (it drops every frame from the first
 * bad one), so the log is read first: when damaged, a copy is kept as
 * `<path>-wal.damaged-<time>` and `warn` gets one line naming both files.
 * Opening then goes on with what SQLite can replay (see docs/OPERATIONS.md
 * "Storage integrity" for why this warns rather than refuses).
 */
async function checkWalBeforeOpen(path: string, warn: (line: string) => void): Promise<void> {
  const wal = await checkWal(path);
  if (wal === null || wal.damage === null) return;
  // A live writer (a running server, when `diagnose` opens the file) can be caught
  // mid-frame: SQLite does not recover a log another connection is using, and a
  // second look then sees the frame complete or more frames.
  const again = await checkWal(path);
  if (again === null || again.damage === null || again.frames !== wal.frames) return;
  const copy = `${wal.walPath}.damaged-${new Date().toISOString().replaceAll(":", "")}`;
  let keptAs: string | null = copy;
  try {
    await Deno.copyFile(wal.walPath, copy);
  } catch {
    keptAs = null; // the warning still goes out; it then names no copy
  }
  warn(describeWalDamage(path, wal, keptAs));
}

/** SQLite's "malformed"/"not a database" errors become a {@link DatabaseCorruptError}. */
function asCorruption(error: unknown, path: string): unknown {
  if (error instanceof DatabaseCorruptError || !(error instanceof Error)) return error;
  return /malformed|not a database|SQLITE_CORRUPT|SQLITE_NOTADB/i.test(error.message)
    ? new DatabaseCorruptError(path, [error.message])
    : error;
}

function isEmpty(db: DatabaseSync): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get() === undefined;
}

function configure(db: DatabaseSync, path: string, options: SqliteStoreOptions): void {
  const busy = options.busyTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(busy) || busy < 0) throw new RangeError("busyTimeoutMs: bad value");
  db.exec(`PRAGMA busy_timeout = ${busy}`);
  const checkpointPages = options.walAutocheckpointPages ?? WAL_AUTOCHECKPOINT_PAGES;
  if (!Number.isSafeInteger(checkpointPages) || checkpointPages < 0) {
    throw new RangeError("walAutocheckpointPages: bad value");
  }
  if (path !== ":memory:") {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA wal_autocheckpoint = ${checkpointPages}`);
  }
  db.exec(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.exec("PRAGMA foreign_keys = ON");
}

/**
 * The default checkpoint threshold: 8,000 pages (32 MiB of WAL at 4 KiB pages)
 * instead of SQLite's 1,000. A checkpoint runs inside the commit that crosses
 * the threshold and fsyncs the log and the file; a registration dirties ~20
 * pages, so at 1,000 every ~50th handshake paid one, and the pages written
 * again and again (the rightmost leaves of the tables and time indexes) were
 * copied back each time. At 8,000 a registration's commit cost 16% less CPU
 * (146 vs 173 µs over 6,000, alternated runs); the price is a larger `-wal`
 * file (reused, not regrown) and a longer replay after a crash.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 8000;

/** The SQLite functions behind the domain methods. */
const SQLITE_OPS: DomainOps<SqliteDb> = {
  ...accounts,
  ...messaging,
  ...pqKeys,
  ...keyPackages,
  ...trust,
};

/** {@link Store} on SQLite. Create with {@link openSqliteStore}. */
export class SqliteStore extends DomainStore<SqliteDb> implements Store {
  readonly backend = "sqlite";
  readonly #db: SqliteDb;

  /** Wraps an open, migrated and configured database (use {@link openSqliteStore}). */
  constructor(db: DatabaseSync) {
    const handle = new SqliteDb(db);
    super(handle, SQLITE_OPS);
    this.#db = handle;
  }

  ping(): Promise<void> {
    return this.#db.read(() => void this.#db.get("SELECT 1"));
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  // federation

  listFederationPeers(): Promise<FederationPeerRecord[]> {
    return this.#db.read(() => sqliteFederation.listPeers(this.#db.raw));
  }

  getFederationPeer(domain: string): Promise<FederationPeerRecord | null> {
    return this.#db.read(() => sqliteFederation.getPeer(this.#db.raw, domain));
  }

  upsertFederationPeer(peer: FederationPeerRecord): Promise<void> {
    return this.#db.write(
      "upsert federation peer",
      () => sqliteFederation.upsertPeer(this.#db.raw, peer),
    );
  }

  deleteFederationPeer(domain: string): Promise<boolean> {
    return this.#db.write(
      "delete federation peer",
      () => sqliteFederation.deletePeer(this.#db.raw, domain),
    );
  }

  enqueueFederationOutbox(
    entry: Omit<FederationOutboxRecord, "attempts" | "lastError">,
  ): Promise<void> {
    return this.#db.write(
      "outbox entry exists",
      () => sqliteFederation.enqueue(this.#db.raw, entry),
    );
  }

  claimFederationOutbox(
    now: Date,
    leaseMs: number,
    limit: number,
  ): Promise<FederationOutboxRecord[]> {
    return this.#db.write(
      "claim federation outbox",
      () => sqliteFederation.claim(this.#db.raw, now, leaseMs, limit),
    );
  }

  completeFederationOutbox(outboxId: string): Promise<boolean> {
    return this.#db.write(
      "complete outbox entry",
      () => sqliteFederation.complete(this.#db.raw, outboxId),
    );
  }

  failFederationOutbox(outboxId: string, error: string, nextAttemptAt: Date): Promise<boolean> {
    return this.#db.write(
      "fail outbox entry",
      () => sqliteFederation.fail(this.#db.raw, outboxId, error, nextAttemptAt),
    );
  }

  listFederationOutbox(limit: number): Promise<FederationOutboxRecord[]> {
    return this.#db.read(() => sqliteFederation.list(this.#db.raw, limit));
  }
}
