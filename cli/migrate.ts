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
import {
  formatVersion,
  type MigrationStatus,
  openSqliteStore,
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
  db: string;
  status?: boolean;
}

/** Runs the command; returns the process exit code. */
export async function runMigrate(options: MigrateOptions, io: MigrateIo = stdIo): Promise<number> {
  let midLine = false;
  try {
    if (options.status) return await printStatus(options.db, io);
    const dir = parentDir(options.db);
    if (dir !== null) await Deno.mkdir(dir, { recursive: true });
    let applied = 0;
    const store = await openSqliteStore(options.db, {
      migrate: true,
      onMigrationProgress: (event) => {
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
    });
    await store.close();
    io.write(
      applied === 0
        ? `database ${options.db} is up to date\n`
        : `database ${options.db}: applied ${applied} migration(s)\n`,
    );
    return 0;
  } catch (error) {
    if (midLine) io.write("failed\n");
    io.error(`error: ${error instanceof Error ? error.message : String(error)}`);
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
    io.write(`database ${path}${exists ? "" : " (does not exist yet)"}\n`);
    for (const m of report.migrations) io.write(statusLine(m));
    if (report.changed.length > 0 || report.unknown.length > 0) {
      const bad = [...report.changed, ...report.unknown].map((m) => formatVersion(m.version));
      io.error(`error: migration ${bad.join(", ")} does not match this binary; see above`);
      return 1;
    }
    io.write(
      report.current
        ? "schema is current\n"
        : `${report.pending} pending migration(s): run \`commucat migrate --db ${path}\`\n`,
    );
    return 0;
  } finally {
    db.close();
  }
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
    .option("--db <path>", "SQLite database file", DEFAULT_DB_PATH)
    .option("--status", "show the state of every migration; change nothing")
    .action(async (options) => {
      const code = await runMigrate({ db: options.db, status: options.status === true }, io);
      if (code !== 0) Deno.exitCode = code;
    });
  return program;
}
