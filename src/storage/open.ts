/**
 * The one place that turns "which backend" into an open {@link Store}.
 *
 * @module
 */

import type { MigrationProgress } from "./migrations.ts";
import { openPostgresStore } from "./postgres/mod.ts";
import { type IntegrityLevel, openSqliteStore } from "./sqlite/mod.ts";
import type { Store } from "./store.ts";

/** Where the durable state lives. */
export type StoreSettings =
  | {
    backend: "sqlite";
    /** The database file (`":memory:"` for a private in-memory database). */
    path: string;
  }
  | {
    backend: "postgres";
    /** Connection URL; may carry a password, so it never appears in errors. */
    dsn: string;
    /** Most pooled connections (default 10). */
    poolSize?: number;
    /** Schema to work in (default: the server's `search_path`). */
    schema?: string;
  };

/** How {@link openStore} treats the schema. */
export interface OpenStoreOptions {
  /** Apply pending migrations (default false: refuse an outdated schema). */
  migrate?: boolean;
  /** Apply every migration to a brand-new (empty) database even without `migrate`. */
  createIfNew?: boolean;
  /** Progress of migrations applied on open. */
  onMigrationProgress?: (event: MigrationProgress) => void;
  /**
   * SQLite only: run `PRAGMA quick_check` (`"quick"`) or `integrity_check`
   * (`"full"`) on open and refuse a damaged file. PostgreSQL keeps its own
   * page checksums; nothing is run there.
   */
  integrityCheck?: IntegrityLevel;
  /** SQLite only: told (one line) when the write-ahead log was found damaged. */
  onWarning?: (line: string) => void;
}

/** Opens the store `settings` names, checking (or migrating) its schema. */
export function openStore(settings: StoreSettings, options: OpenStoreOptions = {}): Promise<Store> {
  switch (settings.backend) {
    case "sqlite":
      return openSqliteStore(settings.path, options);
    case "postgres":
      return openPostgresStore(settings.dsn, {
        migrate: options.migrate,
        createIfNew: options.createIfNew,
        onMigrationProgress: options.onMigrationProgress,
        poolSize: settings.poolSize,
        schema: settings.schema,
      });
  }
}
