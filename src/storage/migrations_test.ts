import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type AppliedMigration,
  assertPlanSafe,
  loadMigrations,
  migrationChecksum,
  MigrationFailedError,
  MigrationFileError,
  MigrationOrderError,
  migrationsFromTexts,
  parseMigrationFileName,
  planMigrations,
} from "./migrations.ts";
import { sqliteMigrationRunner } from "./sqlite/migrations.ts";

const T = new Date("2025-01-01T00:00:00Z");

function appliedRow(version: number, name: string, checksum: string): AppliedMigration {
  return { version, name, checksum, appliedAt: T };
}

Deno.test("parseMigrationFileName accepts NNNN_name.sql only", () => {
  assert.deepEqual(parseMigrationFileName("0001_initial.sql"), { version: 1, name: "initial" });
  assert.deepEqual(parseMigrationFileName("0042_add_index_2.sql"), {
    version: 42,
    name: "add_index_2",
  });
  for (
    const bad of ["1_x.sql", "0001-initial.sql", "0001_Initial.sql", "0000_x.sql", "0001_x.txt"]
  ) {
    assert.equal(parseMigrationFileName(bad), null, bad);
  }
});

Deno.test("checksum is sha256 hex and ignores CRLF", async () => {
  assert.equal(
    await migrationChecksum(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(await migrationChecksum("a;\r\nb;\r\n"), await migrationChecksum("a;\nb;\n"));
  assert.notEqual(await migrationChecksum("a;"), await migrationChecksum("b;"));
});

Deno.test("migrationsFromTexts sorts, and rejects misnamed or duplicate versions", async () => {
  const files = await migrationsFromTexts([
    { fileName: "0002_b.sql", sql: "b" },
    { fileName: "0001_a.sql", sql: "a" },
  ]);
  assert.deepEqual(files.map((f) => f.fileName), ["0001_a.sql", "0002_b.sql"]);
  await assert.rejects(
    migrationsFromTexts([{ fileName: "init.sql", sql: "" }]),
    (e: unknown) => e instanceof MigrationFileError && /init\.sql/.test(e.message),
  );
  await assert.rejects(
    migrationsFromTexts([{ fileName: "0001_a.sql", sql: "" }, { fileName: "0001_b.sql", sql: "" }]),
    (e: unknown) =>
      e instanceof MigrationFileError && /0001_a\.sql and 0001_b\.sql/.test(e.message),
  );
});

Deno.test("planMigrations classifies applied, pending, changed and unknown", async () => {
  const files = await migrationsFromTexts([
    { fileName: "0001_a.sql", sql: "a" },
    { fileName: "0002_b.sql", sql: "b" },
    { fileName: "0003_c.sql", sql: "c" },
  ]);
  const plan = planMigrations(files, [
    appliedRow(1, "a", files[0].checksum),
    appliedRow(2, "b", "other"),
    appliedRow(7, "future", "x"),
  ]);
  assert.deepEqual(plan.map((m) => [m.version, m.state]), [
    [1, "applied"],
    [2, "changed"],
    [3, "pending"],
    [7, "unknown"],
  ]);
  assert.equal(plan[3].fileName, null);
});

Deno.test("assertPlanSafe refuses a pending migration older than an applied one", async () => {
  const files = await migrationsFromTexts([
    { fileName: "0001_a.sql", sql: "a" },
    { fileName: "0002_b.sql", sql: "b" },
    { fileName: "0003_c.sql", sql: "c" },
  ]);
  const plan = planMigrations(files, [
    appliedRow(1, "a", files[0].checksum),
    appliedRow(3, "c", files[2].checksum),
  ]);
  assert.throws(
    () => assertPlanSafe(plan),
    (e: unknown) => e instanceof MigrationOrderError && /0002 \(0002_b\.sql\)/.test(e.message),
  );
});

Deno.test("a failing migration is rolled back and named; earlier ones stay applied", async () => {
  const db = new DatabaseSync(":memory:");
  const files = await migrationsFromTexts([
    { fileName: "0001_a.sql", sql: "CREATE TABLE a (x INTEGER);" },
    { fileName: "0002_b.sql", sql: "CREATE TABLE b (x INTEGER); SELECT * FROM missing_table;" },
  ]);
  const runner = sqliteMigrationRunner(db, files);
  await assert.rejects(
    runner.migrate(),
    (e: unknown) => e instanceof MigrationFailedError && /0002 \(0002_b\.sql\)/.test(e.message),
  );
  assert.deepEqual((await runner.plan()).map((m) => m.state), ["applied", "pending"]);
  const b = db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get();
  assert.equal(b, undefined, "table b of the failed migration must be rolled back");
  db.close();
});

Deno.test("loadMigrations reads a directory and names an unreadable one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-migrations-" });
  try {
    await Deno.writeTextFile(`${dir}/0001_a.sql`, "CREATE TABLE a (x INTEGER);");
    await Deno.writeTextFile(`${dir}/README.md`, "ignored");
    const url = new URL(`file://${dir}/`);
    const files = await loadMigrations(url);
    assert.deepEqual(files.map((f) => f.fileName), ["0001_a.sql"]);
    await assert.rejects(
      loadMigrations(new URL("missing/", url)),
      (e: unknown) => e instanceof MigrationFileError && /cannot read migrations/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a gap in the numbering is applied in order; the lower one arriving later is refused by name", async () => {
  // Several branches take numbers at once (0002, 0003, 0004): 0004 may land first.
  const db = new DatabaseSync(":memory:");
  try {
    const early = await migrationsFromTexts([
      { fileName: "0001_a.sql", sql: "CREATE TABLE a (x INTEGER);" },
      { fileName: "0002_b.sql", sql: "CREATE TABLE b (x INTEGER);" },
      { fileName: "0004_d.sql", sql: "CREATE TABLE d (x INTEGER);" },
    ]);
    const applied = await sqliteMigrationRunner(db, early).migrate();
    assert.deepEqual(applied.map((m) => m.version), [1, 2, 4]);
    const late = await migrationsFromTexts([
      ...early.map((m) => ({ fileName: m.fileName, sql: m.sql })),
      { fileName: "0003_c.sql", sql: "CREATE TABLE c (x INTEGER);" },
    ]);
    await assert.rejects(
      sqliteMigrationRunner(db, late).migrate(),
      (e: unknown) => e instanceof MigrationOrderError && /0003_c\.sql/.test(e.message),
    );
  } finally {
    db.close();
  }
});
