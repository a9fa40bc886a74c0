import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Command } from "@commander-js/extra-typings";
import { registerMigrateCommand, runMigrate } from "./migrate.ts";
import { SQLITE_MIGRATION_FILES } from "../src/storage/mod.ts";
import { captureIo } from "./_test_io.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "commucat-migrate-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("migrate applies with progress, then is a no-op", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/sub/commucat.db`; // parent directory is created
    const first = captureIo();
    assert.equal(await runMigrate({ db }, first), 0);
    assert.match(first.out, /^applying 0001_initial \.\.\. ok \(\d+ ms\)\n/);
    assert.match(first.out, new RegExp(`applied ${SQLITE_MIGRATION_FILES.length} migration`));
    assert.deepEqual(first.err, []);

    const second = captureIo();
    assert.equal(await runMigrate({ db }, second), 0);
    assert.equal(second.out, `database ${db} is up to date\n`);

    const status = captureIo();
    assert.equal(await runMigrate({ db, status: true }, status), 0);
    assert.match(status.out, /0001_initial\s+applied\s+\d{4}-/);
    assert.match(status.out, /schema is current/);
  });
});

Deno.test("migrate --status on a missing database creates nothing", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/missing.db`;
    const io = captureIo();
    assert.equal(await runMigrate({ db, status: true }, io), 0);
    assert.match(io.out, /does not exist yet/);
    assert.match(io.out, /0001_initial\s+pending/);
    assert.match(
      io.out,
      new RegExp(
        `${SQLITE_MIGRATION_FILES.length} pending migration\\(s\\): run \`commucat migrate`,
      ),
    );
    await assert.rejects(Deno.stat(db), Deno.errors.NotFound);
  });
});

Deno.test("migrate fails with one line on a changed migration", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/commucat.db`;
    assert.equal(await runMigrate({ db }, captureIo()), 0);
    const raw = new DatabaseSync(db);
    raw.exec("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
    raw.close();

    const io = captureIo();
    assert.equal(await runMigrate({ db }, io), 1);
    assert.equal(io.err.length, 1);
    assert.match(
      io.err[0],
      /^commucat: migrate: migration 0001 \(0001_initial\.sql\) was modified/,
    );
    assert.equal(io.out, "");

    const status = captureIo();
    assert.equal(await runMigrate({ db, status: true }, status), 1);
    assert.match(status.out, /0001_initial\s+changed/);
    assert.equal(status.err.length, 1);
  });
});

Deno.test("registerMigrateCommand wires options into the program", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/cli.db`;
    const io = captureIo();
    const program = registerMigrateCommand(new Command().name("commucat"), io);
    await program.parseAsync(["migrate", "--db", db], { from: "user" });
    assert.match(io.out, /applying 0001_initial \.\.\. ok/);
    await program.parseAsync(["migrate", "--db", db, "--status"], { from: "user" });
    assert.match(io.out, /schema is current/);
    assert.equal(Deno.exitCode, 0);
  });
});
