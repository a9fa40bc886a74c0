/**
 * Versioned schema migrations. Dialect-neutral planning (which files are
 * applied, pending, changed or unknown to this binary) plus a runner that
 * applies pending files in order through a {@link MigrationTarget}. The
 * SQLite target lives in `sqlite_migrations.ts`; a PostgreSQL target only has
 * to implement the same two methods.
 *
 * Files are named `NNNN_name.sql` (four or more digits, then a lower-case
 * name). Each applied file is recorded in `schema_migrations(version, name,
 * checksum, applied_at)` with the SHA-256 of its text, so an edited file is
 * noticed and refused instead of silently diverging from the database.
 *
 * @module
 */

/** One migration file, read and checksummed. */
export interface MigrationFile {
  version: number;
  /** The part after the version, e.g. `initial`. */
  name: string;
  /** e.g. `0001_initial.sql`. */
  fileName: string;
  sql: string;
  /** SHA-256 hex of the text (line endings normalised to `\n`). */
  checksum: string;
}

/** A row of `schema_migrations`. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
}

/**
 * `applied`: recorded and its file is unchanged; `pending`: file not yet
 * applied; `changed`: applied, but the file's checksum differs now;
 * `unknown`: applied by a newer binary, no file here.
 */
export type MigrationState = "applied" | "pending" | "changed" | "unknown";

/** One line of a migration plan. */
export interface MigrationStatus {
  version: number;
  name: string;
  /** Null for `unknown` migrations. */
  fileName: string | null;
  state: MigrationState;
  appliedAt: Date | null;
}

/** Summary of a plan. */
export interface MigrationReport {
  /** True when every known migration is applied and nothing is changed or unknown. */
  current: boolean;
  migrations: MigrationStatus[];
  applied: number;
  pending: number;
  changed: MigrationStatus[];
  unknown: MigrationStatus[];
}

/** Progress callback events of {@link MigrationRunner.migrate}. */
export type MigrationProgress =
  | { kind: "applying"; migration: MigrationFile }
  | { kind: "applied"; migration: MigrationFile; elapsedMs: number }
  | { kind: "skipped"; migration: MigrationFile };

/** What a database backend provides to the runner. */
export interface MigrationTarget {
  /** Rows of `schema_migrations`; empty when the table does not exist (does not create it). */
  applied(): Promise<AppliedMigration[]>;
  /**
   * Applies `migration` and records it, in one transaction. Returns false
   * (and changes nothing) when the version was recorded meanwhile by someone else.
   */
  apply(migration: MigrationFile, appliedAt: Date): Promise<boolean>;
}

/** Base class of every migration error; the message is one operator-readable line. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

/** An applied migration's file no longer matches the checksum recorded in the database. */
export class MigrationChangedError extends MigrationError {
  constructor(readonly version: number, readonly fileName: string) {
    super(
      `migration ${formatVersion(version)} (${fileName}) was modified after it was applied: ` +
        `its checksum no longer matches schema_migrations; restore the original file ` +
        `and put the change in a new migration`,
    );
    this.name = "MigrationChangedError";
  }
}

/** The database has migrations this binary does not know: it was migrated by a newer version. */
export class SchemaTooNewError extends MigrationError {
  constructor(readonly versions: number[], readonly newestKnown: number) {
    super(
      `database schema is newer than this binary: migration ${
        versions.map(formatVersion).join(", ")
      } is applied but unknown here (newest known: ${formatVersion(newestKnown)}); ` +
        `upgrade commucat`,
    );
    this.name = "SchemaTooNewError";
  }
}

/** A pending migration sorts before one that is already applied. */
export class MigrationOrderError extends MigrationError {
  constructor(readonly version: number, readonly fileName: string, readonly laterApplied: number) {
    super(
      `migration ${formatVersion(version)} (${fileName}) is pending but the later migration ` +
        `${formatVersion(laterApplied)} is already applied; renumber it after ${
          formatVersion(laterApplied)
        }`,
    );
    this.name = "MigrationOrderError";
  }
}

/** Applying a migration failed; its transaction was rolled back. */
export class MigrationFailedError extends MigrationError {
  constructor(
    readonly version: number,
    readonly fileName: string,
    reason: string,
    cause: unknown,
  ) {
    super(
      `migration ${formatVersion(version)} (${fileName}) failed and was rolled back: ${reason}`,
    );
    this.name = "MigrationFailedError";
    this.cause = cause;
  }
}

/** A migration file is misnamed, duplicated or unreadable. */
export class MigrationFileError extends MigrationError {
  constructor(message: string) {
    super(message);
    this.name = "MigrationFileError";
  }
}

const FILE_NAME = /^(\d{4,})_([a-z0-9_]+)\.sql$/;

/** `1` → `0001`. */
export function formatVersion(version: number): string {
  return String(version).padStart(4, "0");
}

/** Splits `0001_initial.sql` into version and name; null when the name does not fit. */
export function parseMigrationFileName(
  fileName: string,
): { version: number; name: string } | null {
  const match = FILE_NAME.exec(fileName);
  if (match === null) return null;
  const version = Number(match[1]);
  if (!Number.isSafeInteger(version) || version < 1) return null;
  return { version, name: match[2] };
}

/** SHA-256 hex of a migration's text, with CRLF normalised so a Windows checkout matches. */
export async function migrationChecksum(sql: string): Promise<string> {
  const bytes = new TextEncoder().encode(sql.replaceAll("\r\n", "\n"));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Builds checked, sorted migrations from file names and texts. This is the
 * path for embedded migrations (e.g. a module generated at build time).
 */
export async function migrationsFromTexts(
  entries: readonly { fileName: string; sql: string }[],
): Promise<MigrationFile[]> {
  const out: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const { fileName, sql } of entries) {
    const parsed = parseMigrationFileName(fileName);
    if (parsed === null) {
      throw new MigrationFileError(
        `migration file ${fileName} is misnamed: expected NNNN_name.sql (digits, then [a-z0-9_])`,
      );
    }
    const previous = seen.get(parsed.version);
    if (previous !== undefined) {
      throw new MigrationFileError(
        `migration files ${previous} and ${fileName} share version ${
          formatVersion(parsed.version)
        }`,
      );
    }
    seen.set(parsed.version, fileName);
    out.push({ ...parsed, fileName, sql, checksum: await migrationChecksum(sql) });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Reads every `*.sql` file of `dir` (a directory URL ending in `/`). Other
 * files (a README) are ignored; a misnamed `.sql` file is an error.
 */
export async function loadMigrations(dir: URL): Promise<MigrationFile[]> {
  const entries: { fileName: string; sql: string }[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
      entries.push({
        fileName: entry.name,
        sql: await Deno.readTextFile(new URL(entry.name, dir)),
      });
    }
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationFileError(`cannot read migrations from ${dir.href}: ${reason}`);
  }
  return migrationsFromTexts(entries);
}

/** Merges files and applied rows into one status list sorted by version. Pure. */
export function planMigrations(
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
): MigrationStatus[] {
  const byVersion = new Map(applied.map((row) => [row.version, row]));
  const plan: MigrationStatus[] = files.map((file) => {
    const row = byVersion.get(file.version);
    byVersion.delete(file.version);
    if (row === undefined) {
      return { ...statusBase(file), state: "pending", appliedAt: null };
    }
    const state = row.checksum === file.checksum ? "applied" : "changed";
    return { ...statusBase(file), state, appliedAt: row.appliedAt };
  });
  for (const row of byVersion.values()) {
    plan.push({
      version: row.version,
      name: row.name,
      fileName: null,
      state: "unknown",
      appliedAt: row.appliedAt,
    });
  }
  return plan.sort((a, b) => a.version - b.version);
}

function statusBase(file: MigrationFile) {
  return { version: file.version, name: file.name, fileName: file.fileName };
}

/** Summarises a plan. Pure. */
export function summarizePlan(plan: readonly MigrationStatus[]): MigrationReport {
  const changed = plan.filter((m) => m.state === "changed");
  const unknown = plan.filter((m) => m.state === "unknown");
  const pending = plan.filter((m) => m.state === "pending").length;
  return {
    current: pending === 0 && changed.length === 0 && unknown.length === 0,
    migrations: [...plan],
    applied: plan.filter((m) => m.state === "applied").length,
    pending,
    changed,
    unknown,
  };
}

/**
 * Throws when the plan must not be applied: a changed migration, migrations
 * unknown to this binary, or a pending migration older than an applied one.
 */
export function assertPlanSafe(plan: readonly MigrationStatus[]): void {
  const changed = plan.find((m) => m.state === "changed");
  if (changed !== undefined) throw new MigrationChangedError(changed.version, changed.fileName!);
  const unknown = plan.filter((m) => m.state === "unknown");
  if (unknown.length > 0) {
    const known = plan.filter((m) => m.state !== "unknown").map((m) => m.version);
    throw new SchemaTooNewError(unknown.map((m) => m.version), Math.max(0, ...known));
  }
  const lastApplied = Math.max(
    0,
    ...plan.filter((m) => m.state === "applied").map((m) => m.version),
  );
  const early = plan.find((m) => m.state === "pending" && m.version < lastApplied);
  if (early !== undefined) {
    throw new MigrationOrderError(early.version, early.fileName!, lastApplied);
  }
}

/** Plans and applies migrations against one target. */
export class MigrationRunner {
  readonly #target: MigrationTarget;
  readonly #files: () => Promise<readonly MigrationFile[]>;
  #loaded: Promise<readonly MigrationFile[]> | null = null;

  /** `files` is a directory URL to read lazily, or already loaded migrations. */
  constructor(target: MigrationTarget, files: URL | readonly MigrationFile[]) {
    this.#target = target;
    this.#files = files instanceof URL ? () => loadMigrations(files) : () => Promise.resolve(files);
  }

  /** The known migration files, sorted by version (read once). */
  files(): Promise<readonly MigrationFile[]> {
    this.#loaded ??= this.#files();
    return this.#loaded;
  }

  /** Status of every known or applied migration, sorted by version. */
  async plan(): Promise<MigrationStatus[]> {
    return planMigrations(await this.files(), await this.#target.applied());
  }

  /** Plan plus counts. */
  async status(): Promise<MigrationReport> {
    return summarizePlan(await this.plan());
  }

  /** True when the database has exactly the known migrations, all unchanged. */
  async isCurrent(): Promise<boolean> {
    return (await this.status()).current;
  }

  /**
   * Applies every pending migration in version order, each in its own
   * transaction. A no-op when current. Throws a {@link MigrationError} before
   * applying anything when a migration changed, is unknown, or is out of order.
   * Returns the migrations it applied.
   */
  async migrate(
    options: { onProgress?: (event: MigrationProgress) => void; now?: () => Date } = {},
  ): Promise<MigrationFile[]> {
    const plan = await this.plan();
    assertPlanSafe(plan);
    const pending = new Set(plan.filter((m) => m.state === "pending").map((m) => m.version));
    const now = options.now ?? (() => new Date());
    const done: MigrationFile[] = [];
    for (const migration of await this.files()) {
      if (!pending.has(migration.version)) continue;
      options.onProgress?.({ kind: "applying", migration });
      const started = performance.now();
      let applied: boolean;
      try {
        applied = await this.#target.apply(migration, now());
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new MigrationFailedError(migration.version, migration.fileName, reason, error);
      }
      if (applied) {
        done.push(migration);
        options.onProgress?.({
          kind: "applied",
          migration,
          elapsedMs: performance.now() - started,
        });
      } else {
        options.onProgress?.({ kind: "skipped", migration });
      }
    }
    // Someone else may have applied a different file concurrently: check once more.
    assertPlanSafe(await this.plan());
    return done;
  }
}
