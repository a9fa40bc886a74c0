/**
 * `commucat migrate`: brings the SQLite schema up to date, or with
 * `--status` shows the state of every migration without changing anything.
 * Idempotent; a changed or unknown migration ends with one error line and
 * exit code 1.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { DatabaseSync } from "node:sqlite";
import { loadConfig } from "../src/config/mod.ts";
import { errorLine, messageOf } from "./errors.ts";
import {
  createPostgresClient,
  describePostgresTarget,
  formatVersion,
  type MigrationProgress,
  type MigrationReport,
  type MigrationStatus,
  openStore,
  postgresMigrationRunner,
  sqliteMigrationRunner,
} from "../src/storage/mod.ts";

/** Database file used when `--db` is not given. */
export const DEFAULT_DB_PATH = "./var/commucat.db";

/** Where the command writes; injectable for tests. */
export interface MigrateIo {
  /** Writes `text` as is (progress lines are written in two parts). */
  write(text: string): void;
  /** Writes one error line. */
  error(line: string): void;
}

const encoder = new TextEncoder();

/** Standard output and standard error. */
export const stdIo: MigrateIo = {
  write: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
  error: (line) => console.error(line),
};

/** Options of {@link runMigrate}. */
export interface MigrateOptions {
  /** SQLite file; ignored when `postgresDsn` is set. */
  db: string;
  /** Migrate a PostgreSQL database instead. */
  postgresDsn?: string;
  status?: boolean;
}

/** Runs the command; returns the process exit code. */
export async function runMigrate(options: MigrateOptions, io: MigrateIo = stdIo): Promise<number> {
  let midLine = false;
  const name = options.postgresDsn ? describePostgresTarget(options.postgresDsn) : options.db;
  try {
    if (options.status) {
      return options.postgresDsn
        ? await printPostgresStatus(options.postgresDsn, io)
        : await printStatus(options.db, io);
    }
    if (!options.postgresDsn) {
      const dir = parentDir(options.db);
      if (dir !== null) await Deno.mkdir(dir, { recursive: true });
    }
    let applied = 0;
    const migrateOptions = {
      migrate: true,
      onMigrationProgress: (event: MigrationProgress) => {
        const label = `${formatVersion(event.migration.version)}_${event.migration.name}`;
        if (event.kind === "applying") {
          io.write(`applying ${label} ... `);
          midLine = true;
        } else if (event.kind === "applied") {
          io.write(`ok (${Math.round(event.elapsedMs)} ms)\n`);
          midLine = false;
          applied++;
        } else {
          io.write("already applied by another process\n");
          midLine = false;
        }
      },
    };
    const store = await openStore(
      options.postgresDsn
        ? { backend: "postgres", dsn: options.postgresDsn, poolSize: 1 }
        : { backend: "sqlite", path: options.db },
      migrateOptions,
    );
    await store.close();
    io.write(
      applied === 0
        ? `database ${name} is up to date\n`
        : `database ${name}: applied ${applied} migration(s)\n`,
    );
    return 0;
  } catch (error) {
    if (midLine) io.write("failed\n");
    io.error(errorLine("migrate", messageOf(error)));
    return 1;
  }
}

async function printStatus(path: string, io: MigrateIo): Promise<number> {
  const exists = await Deno.stat(path).then(() => true, (error) => {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  });
  // A missing file is planned against an empty database so --status never creates one.
  const db = exists ? new DatabaseSync(path, { readOnly: true }) : new DatabaseSync(":memory:");
  try {
    const report = await sqliteMigrationRunner(db).status();
    return printReport(
      `${path}${exists ? "" : " (does not exist yet)"}`,
      report,
      `commucat migrate --db ${path}`,
      io,
    );
  } finally {
    db.close();
  }
}

async function printPostgresStatus(dsn: string, io: MigrateIo): Promise<number> {
  const sql = createPostgresClient(dsn, { poolSize: 1 });
  try {
    const report = await postgresMigrationRunner(sql).status();
    return printReport(describePostgresTarget(dsn), report, "commucat migrate", io);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function printReport(
  name: string,
  report: MigrationReport,
  command: string,
  io: MigrateIo,
): number {
  io.write(`database ${name}\n`);
  for (const m of report.migrations) io.write(statusLine(m));
  if (report.changed.length > 0 || report.unknown.length > 0) {
    const bad = [...report.changed, ...report.unknown].map((m) => formatVersion(m.version));
    io.error(
      errorLine("migrate", `migration ${bad.join(", ")} does not match this binary; see above`),
    );
    return 1;
  }
  io.write(
    report.current
      ? "schema is current\n"
      : `${report.pending} pending migration(s): run \`${command}\`\n`,
  );
  return 0;
}

function statusLine(m: MigrationStatus): string {
  const label = `${formatVersion(m.version)}_${m.name}`.padEnd(28);
  const when = m.appliedAt === null ? "" : `  ${m.appliedAt.toISOString()}`;
  const note = m.state === "changed"
    ? "  (file edited after it was applied)"
    : m.state === "unknown"
    ? "  (applied by a newer commucat)"
    : "";
  return `${label}${m.state.padEnd(8)}${when}${note}\n`;
}

function parentDir(path: string): string | null {
  if (path === ":memory:") return null;
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut > 0 ? path.slice(0, cut) : null;
}

/** Adds `migrate [--status] [--db <path>]` to `program`. */
export function registerMigrateCommand(program: Command, io: MigrateIo = stdIo): Command {
  program
    .command("migrate")
    .description("apply pending database migrations (idempotent)")
    .option(
      "--db <path>",
      "SQLite database file (default: storage.sqlite_path of the configuration)",
    )
    .option(
      "-c, --config <path>",
      "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)",
    )
    .option("--status", "show the state of every migration; change nothing")
    .action(async (options) => {
      let db = options.db ?? DEFAULT_DB_PATH;
      let postgresDsn: string | undefined;
      if (options.db === undefined) {
        try {
          const config = loadConfig({ path: options.config });
          db = config.storage.sqlitePath;
          if (config.storage.backend === "postgres") postgresDsn = config.storage.postgresDsn;
        } catch (error) {
          io.error(error instanceof Error ? error.message : String(error));
          Deno.exitCode = 2;
          return;
        }
      }
      const code = await runMigrate({ db, postgresDsn, status: options.status === true }, io);
      if (code !== 0) Deno.exitCode = code;
    });
  return program;
}
