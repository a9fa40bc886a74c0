/**
 * Durable state: the {@link Store} contract, {@link openStore} (the backend
 * choice), the embedded SQLite store (`./sqlite/`), the PostgreSQL store
 * (`./postgres/`) and the schema migration runner. The conformance suite
 * every backend passes is `./conformance/mod.ts`, imported by tests only.
 *
 * @module
 */

export * from "./store.ts";
export { openStore, type OpenStoreOptions, type StoreSettings } from "./open.ts";
export { SchemaNotCurrentError, StoreCorruptionError } from "./errors.ts";
export {
  type AppliedMigration,
  assertPlanSafe,
  formatVersion,
  loadMigrations,
  MigrationChangedError,
  migrationChecksum,
  MigrationError,
  MigrationFailedError,
  type MigrationFile,
  MigrationFileError,
  MigrationOrderError,
  type MigrationProgress,
  type MigrationReport,
  MigrationRunner,
  migrationsFromTexts,
  type MigrationState,
  type MigrationStatus,
  type MigrationTarget,
  parseMigrationFileName,
  planMigrations,
  SchemaTooNewError,
  summarizePlan,
} from "./migrations.ts";
export * from "./sqlite/mod.ts";
export * from "./postgres/mod.ts";
