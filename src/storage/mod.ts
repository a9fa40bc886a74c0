/**
 * Durable state: the {@link Store} contract, the embedded SQLite store, the
 * PostgreSQL store, the schema migration runner, and the conformance suite
 * every backend passes.
 *
 * @module
 */

export * from "./store.ts";
export {
  openSqliteStore,
  SchemaNotCurrentError,
  SqliteStore,
  type SqliteStoreOptions,
} from "./sqlite.ts";
export { StoreCorruptionError } from "./sqlite_rows.ts";
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
export {
  SQLITE_MIGRATION_FILES,
  SQLITE_MIGRATIONS_DIR,
  sqliteMigrationRunner,
  SqliteMigrationTarget,
} from "./sqlite_migrations.ts";
export {
  openPostgresStore,
  PostgresSchemaNotCurrentError,
  PostgresStore,
  type PostgresStoreOptions,
} from "./postgres.ts";
export {
  createPostgresClient,
  describePostgresTarget,
  type PostgresClient,
  type PostgresConnectOptions,
  StoreUnavailableError,
} from "./postgres_client.ts";
export {
  POSTGRES_MIGRATION_FILES,
  POSTGRES_MIGRATIONS_DIR,
  postgresMigrationRunner,
  PostgresMigrationTarget,
} from "./postgres_migrations.ts";
export {
  type ConformanceCase,
  runStoreConformance,
  STORE_CONFORMANCE_CASES,
} from "./conformance.ts";
