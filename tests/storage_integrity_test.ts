/**
 * #19 §2 "silent WAL corruption": flipping bytes in the WAL of a crashed
 * server lost acknowledged messages without a word. Start-up and `diagnose`
 * now read the WAL before SQLite replays it and run SQLite's integrity check.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { diagnose } from "../cli/diagnose.ts";
import { defaultSettings, type ServerSettings, startServer } from "../src/server/mod.ts";
import { type Logger, silentLogger } from "../src/log/mod.ts";
import { DatabaseCorruptError } from "../src/storage/mod.ts";

const FRAME = 24 + 4096;

function settingsFor(dir: string): ServerSettings {
  return defaultSettings({
    hostname: "127.0.0.1",
    port: 0,
    dataDir: dir,
    sqlitePath: `${dir}/commucat.db`,
  });
}

/** A data dir whose database was left by a crash with `commits` commits in its WAL. */
async function crashedDataDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "commucat-integrity-" });
  await (await startServer(settingsFor(dir), silentLogger)).stop();
  const db = `${dir}/commucat.db`;
  const live = new DatabaseSync(db);
  try {
    live.exec("PRAGMA journal_mode = WAL; CREATE TABLE acked (n INTEGER)");
    for (let i = 0; i < 29; i++) live.exec(`INSERT INTO acked VALUES (${i})`);
    await Deno.copyFile(db, `${dir}/crashed`);
    await Deno.copyFile(`${db}-wal`, `${dir}/crashed-wal`);
  } finally {
    live.close();
  }
  await Deno.rename(`${dir}/crashed`, db);
  await Deno.rename(`${dir}/crashed-wal`, `${db}-wal`);
  return dir;
}

async function flip(path: string, offset: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[offset] ^= 0x5a;
  await Deno.writeFile(path, bytes);
}

function recordingLogger(lines: string[]): Logger {
  return { ...silentLogger, error: (message) => void lines.push(message) };
}

Deno.test("start-up with a damaged WAL logs one error line naming the log and the kept copy", async () => {
  const dir = await crashedDataDir();
  try {
    await flip(`${dir}/commucat.db-wal`, 32 + 4 * FRAME + 100);
    const errors: string[] = [];
    const server = await startServer(settingsFor(dir), recordingLogger(errors));
    await server.stop();
    const wal = errors.filter((l) => l.includes("write-ahead log"));
    assert.equal(wal.length, 1, JSON.stringify(errors));
    assert.match(wal[0], new RegExp(`${dir}/commucat\\.db-wal is damaged: frame 5 of`));
    assert.match(wal[0], /copied to \S+commucat\.db-wal\.damaged-/);
    const kept = [...Deno.readDirSync(dir)].filter((e) => e.name.includes(".damaged-"));
    assert.equal(kept.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start-up after an intact crash says nothing about the WAL", async () => {
  const dir = await crashedDataDir();
  try {
    const errors: string[] = [];
    await (await startServer(settingsFor(dir), recordingLogger(errors))).stop();
    assert.deepEqual(errors, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start-up refuses a damaged database file with the file named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-integrity-" });
  try {
    await (await startServer(settingsFor(dir), silentLogger)).stop();
    const path = `${dir}/commucat.db`;
    const bytes = await Deno.readFile(path);
    // Page 2 onwards holds the schema's tables: smash a b-tree page header.
    bytes.fill(0x7f, 4096, 4096 + 48);
    await Deno.writeFile(path, bytes);
    await assert.rejects(
      startServer(settingsFor(dir), silentLogger),
      (e: unknown) => e instanceof DatabaseCorruptError && e.message.includes(path),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("diagnose reports a damaged WAL as a failed `sqlite wal` check", async () => {
  const dir = await crashedDataDir();
  try {
    const config = `${dir}/commucat.toml`;
    await Deno.writeTextFile(config, `[server]\ndata_dir = "${dir}"\n`);
    await flip(`${dir}/commucat.db-wal`, 32 + 2 * FRAME + 500);
    const checks = await diagnose(config);
    const wal = checks.find((c) => c.name === "sqlite wal");
    assert.ok(wal !== undefined && !wal.ok, JSON.stringify(checks));
    assert.match(wal.detail, /is damaged: frame 3 of/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
