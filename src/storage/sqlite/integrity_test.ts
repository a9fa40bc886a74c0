import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openSqliteStore } from "./store.ts";
import { checkWal, DatabaseCorruptError } from "./integrity.ts";

const PAGE = 4096;
const WAL_HEADER = 32;
const FRAME = 24 + PAGE;

/**
 * A migrated database, then `commits` single-row commits left in its WAL and
 * the pair of files copied while still open: the state a SIGKILL leaves.
 */
async function crashedDatabase(
  dir: string,
  commits: number,
  between?: (db: DatabaseSync) => void,
): Promise<string> {
  const live = `${dir}/live.db`;
  await (await openSqliteStore(live, { migrate: true, createIfNew: true })).close();
  const db = new DatabaseSync(live);
  try {
    db.exec("PRAGMA journal_mode = WAL; CREATE TABLE acked (n INTEGER)");
    between?.(db);
    for (let i = 0; i < commits; i++) db.exec(`INSERT INTO acked VALUES (${i})`);
    const crashed = `${dir}/crashed.db`;
    await Deno.copyFile(live, crashed);
    await Deno.copyFile(`${live}-wal`, `${crashed}-wal`);
    return crashed;
  } finally {
    db.close();
  }
}

function rows(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number((db.prepare("SELECT count(*) AS n FROM acked").get() as { n: number }).n);
  } finally {
    db.close();
  }
}

async function flip(path: string, offset: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[offset] ^= 0xff;
  bytes[offset + 1] ^= 0xff;
  await Deno.writeFile(path, bytes);
}

async function openCollecting(path: string, options = {}): Promise<string[]> {
  const warnings: string[] = [];
  await (await openSqliteStore(path, { ...options, onWarning: (l) => warnings.push(l) })).close();
  return warnings;
}

Deno.test("a crash-left WAL with intact frames opens without a warning and keeps every commit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await crashedDatabase(dir, 30);
    const wal = await checkWal(path);
    assert.ok(wal !== null && wal.damage === null && wal.validFrames === wal.frames);
    assert.deepEqual(await openCollecting(path), []);
    assert.equal(rows(path), 30);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stale frames of an older WAL generation are not damage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await crashedDatabase(dir, 3, (db) => {
      for (let i = 0; i < 40; i++) db.exec(`INSERT INTO acked VALUES (${-i - 1})`);
      db.exec("PRAGMA wal_checkpoint(RESTART)"); // the next commit rewrites the log from its start
    });
    const wal = await checkWal(path);
    assert.ok(wal !== null);
    assert.equal(wal.damage, null);
    assert.ok((await Deno.stat(`${path}-wal`)).size > WAL_HEADER + (wal.frames + 1) * FRAME);
    assert.deepEqual(await openCollecting(path), []);
    assert.equal(rows(path), 43);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flipped bytes in a WAL frame: the open warns naming the file and keeps a copy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await crashedDatabase(dir, 30);
    const before = (await checkWal(path))!;
    // Page content of the 6th frame: SQLite's recovery stops there.
    await flip(`${path}-wal`, WAL_HEADER + 5 * FRAME + 24 + 2000);
    const wal = (await checkWal(path))!;
    assert.match(wal.damage ?? "", /frame 6 of \d+ fails its checksum/);
    assert.ok(wal.lostCommits > 0 && wal.validFrames < before.validFrames);
    const warnings = await openCollecting(path);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`write-ahead log ${path}-wal is damaged`));
    assert.match(warnings[0], /commits after the damage are lost/);
    const copy = /copied to (\S+);/.exec(warnings[0])?.[1];
    assert.ok(copy !== undefined && (await Deno.stat(copy)).isFile);
    assert.ok(
      rows(path) < 30,
      "SQLite dropped the commits past the damage (what the warning says)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a WAL header that fails its checksum is reported (SQLite would ignore the whole log)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await crashedDatabase(dir, 10);
    await flip(`${path}-wal`, 16); // salt-1
    const wal = (await checkWal(path))!;
    assert.match(wal.damage ?? "", /header fails its checksum/);
    const warnings = await openCollecting(path);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /damaged/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a damaged database file is refused by the integrity check, naming the file and the way out", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/c.db`;
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE t (x TEXT); CREATE INDEX t_x ON t (x)");
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${"x".repeat(40)}`);
    db.close(); // checkpointed: everything is in the main file now
    const size = (await Deno.stat(path)).size;
    assert.ok(size > 8 * PAGE);
    // Smash a b-tree page's header and cell pointers in the middle of the file.
    const bytes = await Deno.readFile(path);
    const page = Math.floor(size / PAGE / 2) * PAGE;
    bytes.fill(0x7f, page, page + 64);
    await Deno.writeFile(path, bytes);
    await assert.rejects(
      openSqliteStore(path, { migrate: true, integrityCheck: "quick" }),
      (e: unknown) =>
        e instanceof DatabaseCorruptError &&
        e.message.includes(`database ${path} is damaged`) && /\.recover/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
