/**
 * The PostgreSQL store (npm `postgres`), shared by several server instances,
 * its connection pool and its migration target.
 *
 * @module
 */

export {
  openPostgresStore,
  PostgresSchemaNotCurrentError,
  PostgresStore,
  type PostgresStoreOptions,
} from "./store.ts";
export {
  createPostgresClient,
  describePostgresTarget,
  type PostgresClient,
  type PostgresConnectOptions,
  StoreUnavailableError,
} from "./client.ts";
export {
  POSTGRES_MIGRATION_FILES,
  POSTGRES_MIGRATIONS_DIR,
  postgresMigrationRunner,
  PostgresMigrationTarget,
} from "./migrations.ts";
