/**
 * The PostgreSQL side of the migration runner: where the files are and how
 * one is applied. Each migration runs in its own transaction (PostgreSQL DDL
 * is transactional, so a failing file leaves no trace) that first takes a
 * transaction-scoped advisory lock, so migrators started at the same time
 * against the same schema serialise and the later one skips what the
 * earlier one applied.
 *
 * Everything happens in the connection's current schema (the first existing
 * entry of `search_path`), including `schema_migrations`.
 *
 * @module
 */

import {
  type AppliedMigration,
  type MigrationFile,
  MigrationRunner,
  type MigrationTarget,
} from "../migrations.ts";
import type { PostgresClient } from "./client.ts";
import { pgDate, pgInt, type PgRow, pgText } from "./rows.ts";

/**
 * Directory of the PostgreSQL migrations in the source tree. A compiled
 * binary needs `deno compile --include migrations` for this to resolve.
 */
export const POSTGRES_MIGRATIONS_DIR: URL = new URL(
  "../../../migrations/postgres/",
  import.meta.url,
);

/**
 * Every PostgreSQL migration file, in order. Kept in step with the directory
 * by a test; for builds that embed the texts instead of shipping the directory.
 */
export const POSTGRES_MIGRATION_FILES: readonly string[] = [
  "0001_initial.sql",
  "0002_secret_version.sql",
  "0004_offline_queue_sender.sql",
  "0005_device_pq_keys.sql",
  "0006_mls_key_packages.sql",
  "0007_drop_app_user_domain_index.sql",
  "0008_drop_session_user_index.sql",
];

/** First key of the advisory lock ("cmct"); the second is a hash of the schema name. */
const LOCK_KEY = 0x636d6374;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL
)`;

/**
 * Applies migrations through a `postgres` client. Migration files must not
 * contain their own BEGIN/COMMIT: each is wrapped in one transaction here.
 */
export class PostgresMigrationTarget implements MigrationTarget {
  constructor(private readonly sql: PostgresClient) {}

  async applied(): Promise<AppliedMigration[]> {
    const [table] = await this.sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
    if (table?.present !== true) return [];
    const rows: PgRow[] = await this.sql`
      SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`;
    return rows.map((row) => ({
      version: pgInt(row, "version"),
      name: pgText(row, "name"),
      checksum: pgText(row, "checksum"),
      appliedAt: pgDate(row, "applied_at"),
    }));
  }

  async apply(migration: MigrationFile, appliedAt: Date): Promise<boolean> {
    return await this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY}::int4,
        hashtext(coalesce(current_schema(), '')))`;
      await tx.unsafe(CREATE_TABLE);
      const [exists] =
        await tx`SELECT 1 FROM schema_migrations WHERE version = ${migration.version}`;
      if (exists !== undefined) return false;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO schema_migrations (version, name, checksum, applied_at)
        VALUES (${migration.version}, ${migration.name}, ${migration.checksum}, ${appliedAt})`;
      return true;
    });
  }
}

/** A runner for `sql` using `migrations` (default: the repository's PostgreSQL set). */
export function postgresMigrationRunner(
  sql: PostgresClient,
  migrations: URL | readonly MigrationFile[] = POSTGRES_MIGRATIONS_DIR,
): MigrationRunner {
  return new MigrationRunner(new PostgresMigrationTarget(sql), migrations);
}
