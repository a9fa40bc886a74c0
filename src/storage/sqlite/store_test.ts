import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runStoreConformance } from "../conformance/mod.ts";
import { MigrationChangedError, SchemaTooNewError } from "../migrations.ts";
import { openSqliteStore } from "./store.ts";
import { SchemaNotCurrentError } from "../errors.ts";
import {
  SQLITE_MIGRATION_FILES,
  SQLITE_MIGRATIONS_DIR,
  sqliteMigrationRunner,
} from "./migrations.ts";
import { T0 } from "../conformance/fixtures.ts";

await runStoreConformance("sqlite :memory:", () => openSqliteStore(":memory:", { migrate: true }));

Deno.test("sqlite file store passes conformance", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-store-" });
  try {
    let n = 0;
    await runStoreConformance(
      "sqlite file",
      () => openSqliteStore(`${dir}/case-${n++}.db`, { migrate: true }),
      t,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite file store keeps data across reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-store-" });
  const path = `${dir}/persist.db`;
  try {
    const first = await openSqliteStore(path, { migrate: true, synchronous: "full" });
    await first.createUser({
      userId: "u1",
      handle: "alice",
      displayName: "Alice",
      avatarUrl: null,
      domain: "local",
      createdAt: T0,
      updatedAt: T0,
    });
    await first.enqueueOffline([{
      envelopeId: "e1",
      deviceId: "d1",
      payload: new Uint8Array([1, 2, 3]),
      deliverAfter: T0,
      expiresAt: new Date(T0.getTime() + 60_000),
    }]);
    await first.putRoute({ channel: 5, members: ["b", "a"], groupId: null });
    await first.close();
    await first.close(); // idempotent

    const second = await openSqliteStore(path); // already migrated: no flag needed
    assert.equal((await second.getUserByHandle("alice", "local"))?.displayName, "Alice");
    const inbox = await second.loadOfflineQueue("d1", { limit: 10, now: T0 });
    assert.deepEqual(inbox.map((e) => [e.envelopeId, Array.from(e.payload)]), [["e1", [1, 2, 3]]]);
    assert.deepEqual((await second.getRoute(5))?.members, ["b", "a"]);
    await second.close();

    const mode = new DatabaseSync(path);
    assert.equal(mode.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    mode.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite file store checkpoints its WAL at walAutocheckpointPages, by default far later", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-store-" });
  // How much the -wal file grew over 600 one-user commits (each appends a frame per B-tree
  // touched: the table and its four indexes; 3,000 frames in all without a checkpoint).
  const walGrowth = async (name: string, pages?: number) => {
    const path = `${dir}/${name}.db`;
    const store = await openSqliteStore(path, { migrate: true, walAutocheckpointPages: pages });
    const before = (await Deno.stat(`${path}-wal`)).size;
    for (let i = 0; i < 600; i++) {
      await store.createUser({
        userId: `u${i}`,
        handle: `user${i}`,
        displayName: null,
        avatarUrl: null,
        domain: "local",
        createdAt: T0,
        updatedAt: T0,
      });
    }
    const after = (await Deno.stat(`${path}-wal`)).size;
    await store.close();
    return after - before;
  };
  try {
    // After a checkpoint the log starts over from its beginning: the file stops growing.
    assert.ok(await walGrowth("small", 20) < 600 * 4096);
    // SQLite's own 1,000 would have held it near 1,000 frames.
    assert.ok(await walGrowth("default") > 2000 * 4096);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrations: fresh database gets every migration, second run is a no-op", async () => {
  const db = new DatabaseSync(":memory:");
  const runner = sqliteMigrationRunner(db);
  const before = await runner.status();
  assert.equal(before.current, false);
  assert.equal(before.pending, SQLITE_MIGRATION_FILES.length);

  const events: string[] = [];
  const applied = await runner.migrate({
    onProgress: (e) => events.push(`${e.kind} ${e.migration.fileName}`),
  });
  assert.deepEqual(applied.map((m) => m.fileName), SQLITE_MIGRATION_FILES);
  assert.deepEqual(
    events,
    SQLITE_MIGRATION_FILES.flatMap((f) => [`applying ${f}`, `applied ${f}`]),
  );
  assert.equal(await runner.isCurrent(), true);
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all().map((r) => r.name);
  for (
    const table of [
      "app_user",
      "channel_route",
      "device_key_event",
      "federation_outbox",
      "inbox_offset",
      "relay_queue",
      "schema_migrations",
      "server_secret",
    ]
  ) assert.ok(tables.includes(table), `missing table ${table}`);

  assert.deepEqual(await runner.migrate(), []);
  const rows = db.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    .all();
  assert.equal(rows.length, SQLITE_MIGRATION_FILES.length);
  assert.equal(rows[0].name, "initial");
  assert.match(String(rows[0].checksum), /^[0-9a-f]{64}$/);
  db.close();
});

Deno.test("migrations: app_user keeps the indexes its queries use, not idx_app_user_domain", async () => {
  const db = new DatabaseSync(":memory:");
  await sqliteMigrationRunner(db).migrate();
  const indexes = db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'app_user' AND sql IS NOT NULL ORDER BY name",
  ).all().map((r) => r.name);
  assert.deepEqual(indexes, ["idx_app_user_created", "idx_app_user_handle_domain"]);
  // The account queries (src/storage/sqlite/accounts.ts) each use an index still there.
  const plan = (query: string) =>
    db.prepare(`EXPLAIN QUERY PLAN ${query}`).all().map((r) => String(r.detail)).join("; ");
  assert.match(
    plan("SELECT * FROM app_user WHERE handle = 'a' AND domain = 'b'"),
    /USING INDEX idx_app_user_handle_domain/,
  );
  assert.match(
    plan("SELECT * FROM app_user WHERE user_id = 'u'"),
    /USING INDEX sqlite_autoindex_app_user_1/,
  );
  assert.match(
    plan("SELECT * FROM app_user ORDER BY created_at, user_id LIMIT 10 OFFSET 0"),
    /SCAN app_user USING INDEX idx_app_user_created/,
  );
  db.close();
});

Deno.test("migrations: session keeps the indexes its queries use, not idx_session_user", async () => {
  const db = new DatabaseSync(":memory:");
  await sqliteMigrationRunner(db).migrate();
  const indexes = db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'session' AND sql IS NOT NULL ORDER BY name",
  ).all().map((r) => r.name);
  assert.deepEqual(indexes, ["idx_session_device", "idx_session_expires"]);
  // The session queries (src/storage/sqlite/accounts.ts) each use an index still there.
  const plan = (query: string) =>
    db.prepare(`EXPLAIN QUERY PLAN ${query}`).all().map((r) => String(r.detail)).join("; ");
  assert.match(
    plan("SELECT * FROM session WHERE session_id = 's'"),
    /USING INDEX sqlite_autoindex_session_1/,
  );
  assert.match(
    plan("DELETE FROM session WHERE device_id = 'd'"),
    /USING (COVERING )?INDEX idx_session_device/,
  );
  assert.match(
    plan("DELETE FROM session WHERE expires_at <= 5"),
    /USING (COVERING )?INDEX idx_session_expires/,
  );
  db.close();
});

Deno.test("migrations: a changed migration is refused, naming version and file", async () => {
  const db = new DatabaseSync(":memory:");
  await sqliteMigrationRunner(db).migrate();
  db.exec("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1");
  const runner = sqliteMigrationRunner(db);
  const plan = await runner.plan();
  assert.equal(plan[0].state, "changed");
  assert.equal(await runner.isCurrent(), false);
  await assert.rejects(runner.migrate(), (error: unknown) => {
    assert.ok(error instanceof MigrationChangedError);
    assert.match(error.message, /0001/);
    assert.match(error.message, /0001_initial\.sql/);
    return true;
  });
  db.close();
});

Deno.test("migrations: a database migrated by a newer binary is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-store-" });
  const path = `${dir}/newer.db`;
  try {
    const db = new DatabaseSync(path);
    await sqliteMigrationRunner(db).migrate();
    db.exec(
      "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'future', 'x', 0)",
    );
    const plan = await sqliteMigrationRunner(db).plan();
    assert.deepEqual(plan.map((m) => m.state), [
      ...SQLITE_MIGRATION_FILES.map(() => "applied"),
      "unknown",
    ]);
    db.close();
    await assert.rejects(openSqliteStore(path), SchemaTooNewError);
    await assert.rejects(openSqliteStore(path, { migrate: true }), /9999.*upgrade commucat/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqliteStore refuses an unmigrated database, naming `commucat migrate`", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-store-" });
  const path = `${dir}/fresh.db`;
  try {
    await assert.rejects(openSqliteStore(path), (error: unknown) => {
      assert.ok(error instanceof SchemaNotCurrentError);
      assert.match(error.message, /commucat migrate/);
      assert.match(error.message, /0001/);
      return true;
    });
    // Refusing wrote no schema.
    const db = new DatabaseSync(path);
    assert.equal(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master").get()?.n, 0);
    db.close();
    const store = await openSqliteStore(path, { migrate: true });
    await store.ping();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SQLITE_MIGRATION_FILES lists exactly the files of migrations/sqlite", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(SQLITE_MIGRATIONS_DIR)) {
    if (entry.name.endsWith(".sql")) names.push(entry.name);
  }
  assert.deepEqual(names.sort(), [...SQLITE_MIGRATION_FILES]);
});

Deno.test("postgres migrations define the same tables and columns as sqlite", async () => {
  const columns = (sql: string) => {
    const out: string[] = [];
    for (const m of sql.matchAll(/CREATE TABLE (\w+) \(([\s\S]*?)\n\)/g)) {
      for (const line of m[2].split("\n")) {
        const col = /^\s+([a-z_]+) [A-Z]/.exec(line);
        if (col !== null && !["PRIMARY", "UNIQUE"].includes(col[1])) out.push(`${m[1]}.${col[1]}`);
      }
    }
    return out;
  };
  // Every migration, in order: the dialects must agree after each of them.
  const read = async (dir: string) => {
    const texts: string[] = [];
    for (const file of SQLITE_MIGRATION_FILES) {
      texts.push(await Deno.readTextFile(new URL(`${dir}${file}`, SQLITE_MIGRATIONS_DIR)));
    }
    return texts.join("\n");
  };
  const sqlite = await read("");
  const pg = await read("../postgres/");
  assert.ok(columns(sqlite).length > 60);
  assert.deepEqual(columns(pg), columns(sqlite));
});

Deno.test("createIfNew migrates a brand-new file but not an existing one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-store-" });
  try {
    const fresh = await openSqliteStore(`${dir}/new.db`, { createIfNew: true });
    await fresh.ping();
    await fresh.close();

    const raw = new DatabaseSync(`${dir}/old.db`);
    raw.exec("CREATE TABLE unrelated (x INTEGER)");
    raw.close();
    await assert.rejects(
      openSqliteStore(`${dir}/old.db`, { createIfNew: true }),
      SchemaNotCurrentError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
