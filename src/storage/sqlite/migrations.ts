/**
 * The SQLite side of the migration runner: where the files are and how one is
 * applied (in a `BEGIN IMMEDIATE` transaction, so two processes migrating the
 * same file at once serialise and the second one skips).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import {
  type AppliedMigration,
  type MigrationFile,
  MigrationRunner,
  type MigrationTarget,
} from "../migrations.ts";

/**
 * Directory of the SQLite migrations in the source tree. A compiled binary
 * needs `deno compile --include migrations` for this to resolve.
 */
export const SQLITE_MIGRATIONS_DIR: URL = new URL("../../../migrations/sqlite/", import.meta.url);

/**
 * Every SQLite migration file, in order. Kept in step with the directory by a
 * test; for builds that embed the texts instead of shipping the directory.
 */
export const SQLITE_MIGRATION_FILES: readonly string[] = [
  "0001_initial.sql",
  "0002_secret_version.sql",
  "0004_offline_queue_sender.sql",
  "0005_device_pq_keys.sql",
  "0006_mls_key_packages.sql",
  "0007_drop_app_user_domain_index.sql",
  "0008_drop_session_user_index.sql",
];

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`;

/**
 * Applies migrations to a `node:sqlite` database. Migration files must not
 * contain their own BEGIN/COMMIT: each is wrapped in one transaction here
 * (SQLite DDL is transactional, so a failing file leaves no trace).
 */
export class SqliteMigrationTarget implements MigrationTarget {
  constructor(private readonly db: DatabaseSync) {}

  applied(): Promise<AppliedMigration[]> {
    const table = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
      .get();
    if (table === undefined) return Promise.resolve([]);
    const rows = this.db
      .prepare("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
      .all();
    return Promise.resolve(rows.map((row) => ({
      version: Number(row.version),
      name: String(row.name),
      checksum: String(row.checksum),
      appliedAt: new Date(Number(row.applied_at)),
    })));
  }

  apply(migration: MigrationFile, appliedAt: Date): Promise<boolean> {
    const db = this.db;
    db.exec(CREATE_TABLE);
    db.exec("BEGIN IMMEDIATE");
    try {
      const exists = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?")
        .get(migration.version);
      if (exists !== undefined) {
        db.exec("ROLLBACK");
        return Promise.resolve(false);
      }
      db.exec(migration.sql);
      db.prepare(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
      ).run(migration.version, migration.name, migration.checksum, appliedAt.getTime());
      db.exec("COMMIT");
      return Promise.resolve(true);
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      return Promise.reject(error);
    }
  }
}

/** A runner for `db` using the migrations in `dir` (default: the repository's SQLite set). */
export function sqliteMigrationRunner(
  db: DatabaseSync,
  migrations: URL | readonly MigrationFile[] = SQLITE_MIGRATIONS_DIR,
): MigrationRunner {
  return new MigrationRunner(new SqliteMigrationTarget(db), migrations);
}
