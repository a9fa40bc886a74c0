/**
 * The embedded SQLite store (`node:sqlite`, one file in WAL mode) and its
 * migration target. Adding a backend: a folder like this one whose store
 * extends `DomainStore`, passes `../conformance/` and is chosen in `../open.ts`.
 *
 * @module
 */

export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from "./store.ts";
export {
  SQLITE_MIGRATION_FILES,
  SQLITE_MIGRATIONS_DIR,
  sqliteMigrationRunner,
  SqliteMigrationTarget,
} from "./migrations.ts";
export {
  checkDatabase,
  checkWal,
  DatabaseCorruptError,
  type IntegrityLevel,
  type WalReport,
} from "./integrity.ts";
