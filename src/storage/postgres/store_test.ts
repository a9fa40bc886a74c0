/**
 * PostgreSQL store tests. They need a server: set `COMMUCAT_TEST_PG_DSN`
 * (e.g. `postgres://postgres@127.0.0.1:5432/test`; `.ci/services.sh` does).
 * Without it the database tests are registered as ignored, with a name
 * saying why. Every test works in schemas of its own
 * (`commucat_test_<run>_<n>`), dropped at its end, so runs are isolated
 * and repeatable on a shared database.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { runStoreConformance } from "../conformance/mod.ts";
import { device, T0, user } from "../conformance/fixtures.ts";
import { keyPackage } from "../conformance/key_packages.ts";
import {
  MigrationChangedError,
  MigrationFailedError,
  migrationsFromTexts,
  SchemaTooNewError,
} from "../migrations.ts";
import { openPostgresStore, PostgresSchemaNotCurrentError } from "./store.ts";
import { createPostgresClient, describePostgresTarget, StoreUnavailableError } from "./client.ts";
import {
  POSTGRES_MIGRATION_FILES,
  POSTGRES_MIGRATIONS_DIR,
  postgresMigrationRunner,
} from "./migrations.ts";
import { SchemaNotCurrentError } from "../errors.ts";
import type { OfflineEnvelope } from "../store.ts";

const DSN = Deno.env.get("COMMUCAT_TEST_PG_DSN") || undefined;
const RUN = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
let schemaCount = 0;

/** Schemas made by one test, dropped when it ends. */
class Schemas {
  readonly #admin = postgres(DSN!, { max: 1, onnotice: () => {} });
  readonly #made: string[] = [];

  /** Creates an empty schema and returns its name. */
  async create(): Promise<string> {
    const name = `commucat_test_${RUN}_${schemaCount++}`;
    await this.#admin.unsafe(`CREATE SCHEMA ${name}`);
    this.#made.push(name);
    return name;
  }

  /** A raw statement as the admin connection (not in any test schema). */
  unsafe(sql: string) {
    return this.#admin.unsafe(sql);
  }

  async dropAll(): Promise<void> {
    try {
      for (const name of this.#made) await this.#admin.unsafe(`DROP SCHEMA ${name} CASCADE`);
    } finally {
      await this.#admin.end({ timeout: 5 });
    }
  }
}

/** Registers a test that needs PostgreSQL; ignored, with the reason in its name, without it. */
function pgTest(name: string, fn: (schemas: Schemas, t: Deno.TestContext) => Promise<void>) {
  if (DSN === undefined) {
    Deno.test({
      name: `${name} (skipped: COMMUCAT_TEST_PG_DSN not set)`,
      ignore: true,
      fn: () => {},
    });
    return;
  }
  Deno.test(name, async (t) => {
    const schemas = new Schemas();
    try {
      await fn(schemas, t);
    } finally {
      await schemas.dropAll();
    }
  });
}

async function tablesOf(schemas: Schemas, schema: string): Promise<string[]> {
  const rows = await schemas.unsafe(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}'
     ORDER BY table_name`,
  );
  return rows.map((r) => String(r.table_name));
}

function envelope(id: string, deviceId: string, payload: Uint8Array): OfflineEnvelope {
  return {
    envelopeId: id,
    deviceId,
    payload,
    deliverAfter: T0,
    expiresAt: new Date(T0.getTime() + 3_600_000),
  };
}

pgTest("postgres store passes conformance", async (schemas, t) => {
  await runStoreConformance(
    "postgres",
    async () => openPostgresStore(DSN!, { schema: await schemas.create(), migrate: true }),
    t,
  );
});

pgTest("postgres relay: bytes come back as plain Uint8Array, big batches keep order", async (s) => {
  const store = await openPostgresStore(DSN!, { schema: await s.create(), migrate: true });
  try {
    const big = crypto.getRandomValues(new Uint8Array(65_536));
    const view = new Uint8Array(new Uint8Array([9, 0, 1, 2, 3, 9]).buffer, 1, 4); // offset view
    const batch = [envelope("big", "dev", big), envelope("view", "dev", view)];
    for (let i = 0; i < 5000; i++) batch.push(envelope(`n${i}`, "dev", new Uint8Array([i & 255])));
    await store.enqueueOffline(batch);
    const inbox = await store.loadOfflineQueue("dev", { limit: 10_000, now: T0 });
    assert.deepEqual(inbox.map((e) => e.envelopeId), batch.map((e) => e.envelopeId));
    assert.equal(inbox[0].payload.constructor, Uint8Array);
    assert.deepEqual(inbox[0].payload, big);
    assert.deepEqual(Array.from(inbox[1].payload), [0, 1, 2, 3]);
    assert.equal(await store.deleteOffline("dev", batch.map((e) => e.envelopeId)), 5002);
  } finally {
    await store.close();
  }
});

pgTest(
  "postgres migrations: fresh schema gets every migration, second run is a no-op",
  async (s) => {
    const schema = await s.create();
    const sql = createPostgresClient(DSN!, { schema, poolSize: 1 });
    try {
      const runner = postgresMigrationRunner(sql);
      const before = await runner.status();
      assert.equal(before.current, false);
      assert.equal(before.pending, POSTGRES_MIGRATION_FILES.length);
      assert.deepEqual(await tablesOf(s, schema), [], "status must not create anything");

      const events: string[] = [];
      const applied = await runner.migrate({
        onProgress: (e) => events.push(`${e.kind} ${e.migration.fileName}`),
      });
      assert.deepEqual(applied.map((m) => m.fileName), POSTGRES_MIGRATION_FILES);
      assert.deepEqual(
        events,
        POSTGRES_MIGRATION_FILES.flatMap((f) => [`applying ${f}`, `applied ${f}`]),
      );
      assert.equal(await runner.isCurrent(), true);
      const tables = await tablesOf(s, schema);
      for (
        const table of ["app_user", "channel_route", "relay_queue", "schema_migrations", "session"]
      ) assert.ok(tables.includes(table), `missing table ${table}`);

      assert.deepEqual(await runner.migrate(), []);
      const rows =
        await sql`SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`;
      assert.equal(rows.length, POSTGRES_MIGRATION_FILES.length);
      assert.equal(rows[0].version, 1);
      assert.equal(rows[0].name, "initial");
      assert.match(String(rows[0].checksum), /^[0-9a-f]{64}$/);
      assert.ok(rows[0].applied_at instanceof Date);

      // Already migrated: opening needs no flag.
      const store = await openPostgresStore(DSN!, { schema });
      await store.ping();
      await store.close();
    } finally {
      await sql.end();
    }
  },
);

/**
 * Migrates a fresh schema, then gives `check` the index names of `table` and
 * the plan of a query with sequential scans off (so the plan names the index
 * the query can use, whatever the table's size).
 */
async function migratedIndexes(
  s: Schemas,
  table: string,
  check: (indexes: string[], plan: (query: string) => Promise<string>) => Promise<void>,
): Promise<void> {
  const schema = await s.create();
  const sql = createPostgresClient(DSN!, { schema, poolSize: 1 });
  try {
    await postgresMigrationRunner(sql).migrate();
    const rows = await sql`SELECT indexname FROM pg_indexes
      WHERE schemaname = ${schema} AND tablename = ${table} ORDER BY indexname`;
    await sql`SET enable_seqscan = off`;
    const plan = async (query: string) =>
      (await sql.unsafe(`EXPLAIN ${query}`)).map((r) => r["QUERY PLAN"]).join("\n");
    await check(rows.map((r) => String(r.indexname)), plan);
  } finally {
    await sql.end();
  }
}

pgTest(
  "postgres migrations: app_user keeps the indexes its queries use, not idx_app_user_domain",
  (s) =>
    migratedIndexes(s, "app_user", async (indexes, plan) => {
      assert.deepEqual(indexes, [
        "app_user_pkey",
        "idx_app_user_created",
        "idx_app_user_handle_domain",
      ]);
      // The handle lookup (src/storage/postgres/accounts.ts) still has its index.
      assert.match(
        await plan("SELECT * FROM app_user WHERE handle = 'a' AND domain = 'b'"),
        /idx_app_user_handle_domain/,
      );
    }),
);

pgTest(
  "postgres migrations: session keeps the indexes its queries use, not idx_session_user",
  (s) =>
    migratedIndexes(s, "session", async (indexes, plan) => {
      assert.deepEqual(indexes, ["idx_session_device", "idx_session_expires", "session_pkey"]);
      // The session queries (src/storage/postgres/accounts.ts) still have their indexes.
      assert.match(await plan("SELECT * FROM session WHERE session_id = 's'"), /session_pkey/);
      assert.match(
        await plan("DELETE FROM session WHERE device_id = 'd'"),
        /idx_session_device/,
      );
      assert.match(
        await plan("DELETE FROM session WHERE expires_at <= now()"),
        /idx_session_expires/,
      );
    }),
);

pgTest(
  "postgres migrations: a changed migration is refused, naming version and file",
  async (s) => {
    const schema = await s.create();
    const sql = createPostgresClient(DSN!, { schema, poolSize: 1 });
    try {
      await postgresMigrationRunner(sql).migrate();
      await sql`UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1`;
      const runner = postgresMigrationRunner(sql);
      assert.equal((await runner.plan())[0].state, "changed");
      const changed = (error: unknown) => {
        assert.ok(error instanceof MigrationChangedError);
        assert.match(error.message, /0001 \(0001_initial\.sql\)/);
        return true;
      };
      await assert.rejects(runner.migrate(), changed);
      await assert.rejects(openPostgresStore(DSN!, { schema }), changed);
      await assert.rejects(openPostgresStore(DSN!, { schema, migrate: true }), changed);
    } finally {
      await sql.end();
    }
  },
);

pgTest("postgres: an older or empty schema is refused, naming `commucat migrate`", async (s) => {
  const empty = await s.create();
  await assert.rejects(openPostgresStore(DSN!, { schema: empty }), (error: unknown) => {
    assert.ok(error instanceof PostgresSchemaNotCurrentError);
    assert.ok(error instanceof SchemaNotCurrentError);
    assert.match(error.message, /commucat migrate/);
    assert.match(error.message, /0001/);
    assert.doesNotMatch(error.message, /--db/);
    return true;
  });
  assert.deepEqual(await tablesOf(s, empty), [], "refusing wrote no schema");

  // A schema one migration behind this binary.
  const files = await migrationsFromTexts([
    { fileName: "0001_a.sql", sql: "CREATE TABLE a (x INTEGER);" },
    { fileName: "0002_b.sql", sql: "CREATE TABLE b (x INTEGER);" },
  ]);
  const older = await s.create();
  const sql = createPostgresClient(DSN!, { schema: older, poolSize: 1 });
  try {
    await postgresMigrationRunner(sql, files.slice(0, 1)).migrate();
  } finally {
    await sql.end();
  }
  for (const createIfNew of [false, true]) {
    await assert.rejects(
      openPostgresStore(DSN!, { schema: older, migrations: files, createIfNew }),
      (error: unknown) =>
        error instanceof PostgresSchemaNotCurrentError &&
        /1 pending migration\(s\) \(0002\); run `commucat migrate`/.test(error.message),
    );
  }
  const store = await openPostgresStore(DSN!, { schema: older, migrations: files, migrate: true });
  await store.close();
  assert.deepEqual(await tablesOf(s, older), ["a", "b", "schema_migrations"]);
});

pgTest("postgres: a schema migrated by a newer binary is refused", async (s) => {
  const schema = await s.create();
  const sql = createPostgresClient(DSN!, { schema, poolSize: 1 });
  try {
    await postgresMigrationRunner(sql).migrate();
    await sql`INSERT INTO schema_migrations (version, name, checksum, applied_at)
      VALUES (9999, 'future', 'x', now())`;
  } finally {
    await sql.end();
  }
  await assert.rejects(openPostgresStore(DSN!, { schema }), SchemaTooNewError);
  await assert.rejects(openPostgresStore(DSN!, { schema, migrate: true }), /9999.*upgrade/);
});

pgTest("postgres: createIfNew migrates an empty schema but not one with tables", async (s) => {
  const fresh = await s.create();
  const store = await openPostgresStore(DSN!, { schema: fresh, createIfNew: true });
  await store.ping();
  await store.close();
  assert.ok((await tablesOf(s, fresh)).includes("relay_queue"));

  const used = await s.create();
  await s.unsafe(`CREATE TABLE ${used}.unrelated (x INTEGER)`);
  await assert.rejects(
    openPostgresStore(DSN!, { schema: used, createIfNew: true }),
    PostgresSchemaNotCurrentError,
  );
});

pgTest("postgres migrations: concurrent migrators serialise, each file applied once", async (s) => {
  const schema = await s.create();
  const clients = [0, 1, 2].map(() => createPostgresClient(DSN!, { schema, poolSize: 1 }));
  try {
    const results = await Promise.all(clients.map((sql) => postgresMigrationRunner(sql).migrate()));
    assert.equal(results.flat().length, POSTGRES_MIGRATION_FILES.length);
    const rows = await clients[0]`SELECT version FROM schema_migrations`;
    assert.equal(rows.length, POSTGRES_MIGRATION_FILES.length);
  } finally {
    await Promise.all(clients.map((sql) => sql.end()));
  }
});

pgTest("postgres migrations: a failing migration is rolled back and named", async (s) => {
  const schema = await s.create();
  const files = await migrationsFromTexts([
    { fileName: "0001_a.sql", sql: "CREATE TABLE a (x INTEGER);" },
    { fileName: "0002_b.sql", sql: "CREATE TABLE b (x INTEGER); SELECT * FROM missing_table;" },
  ]);
  const sql = createPostgresClient(DSN!, { schema, poolSize: 1 });
  try {
    const runner = postgresMigrationRunner(sql, files);
    await assert.rejects(
      runner.migrate(),
      (e: unknown) => e instanceof MigrationFailedError && /0002 \(0002_b\.sql\)/.test(e.message),
    );
    assert.deepEqual((await runner.plan()).map((m) => m.state), ["applied", "pending"]);
    assert.deepEqual(await tablesOf(s, schema), ["a", "schema_migrations"]);
  } finally {
    await sql.end();
  }
});

pgTest("postgres: the pool reconnects after its backends are terminated", async (s) => {
  const applicationName = `commucat-test-${RUN}-reconnect`;
  const store = await openPostgresStore(DSN!, {
    schema: await s.create(),
    migrate: true,
    applicationName,
    poolSize: 3,
  });
  const terminate = async () => {
    const rows = await s.unsafe(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
       WHERE application_name = '${applicationName}'`,
    );
    assert.ok(rows.length >= 1, "no backend of the store to terminate");
  };
  const erredOrWorked = async (op: Promise<unknown>) => {
    await op.catch((error) => assert.ok(error instanceof StoreUnavailableError, String(error)));
  };
  try {
    await Promise.all([store.ping(), store.countOfflineTotal(), store.ping()]);

    await terminate();
    // A read retries past the dead connections of the pool onto a fresh one.
    await store.ping();
    assert.equal(await store.countOfflineTotal(), 0);

    await terminate();
    // A write is not retried: it fails as unavailable (or lands on a fresh connection).
    await erredOrWorked(store.enqueueOffline([envelope("maybe", "dev", new Uint8Array([1]))]));
    await store.enqueueOffline([envelope("sure", "dev", new Uint8Array([2]))]);
    const ids = (await store.loadOfflineQueue("dev", { limit: 10, now: T0 })).map((e) =>
      e.envelopeId
    );
    assert.ok(ids.at(-1) === "sure" && ids.length <= 2, ids.join(","));
  } finally {
    await store.close();
  }
});

pgTest("postgres: a missing schema or database is a clear error", async (s) => {
  await assert.rejects(
    openPostgresStore(DSN!, { schema: `commucat_test_${RUN}_missing` }),
    /no schema of the search_path exists/,
  );
  const noDb = DSN!.replace(/\/[^/?#]*(\?|#|$)/, `/commucat_missing_${RUN}$1`);
  await assert.rejects(openPostgresStore(noDb), (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError, String(error));
    assert.match(error.message, /^storage unavailable: postgres /);
    return true;
  });
  await s.create(); // the admin connection is used at least once
});

Deno.test("postgres: an unreachable server is StoreUnavailableError without the password", async () => {
  const dsn = "postgres://commucat:sekret-pw@127.0.0.1:1/commucat";
  await assert.rejects(
    openPostgresStore(dsn, { connectTimeoutSeconds: 5 }),
    (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.match(error.message, /^storage unavailable: postgres 127\.0\.0\.1:1\/commucat: /);
      assert.doesNotMatch(error.message, /sekret/);
      return true;
    },
  );
  await assert.rejects(openPostgresStore("mysql://x@y/z"), TypeError);
  await assert.rejects(openPostgresStore("postgres://u:sekret-pw@[bad/db"), (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.doesNotMatch(error.message, /sekret/);
    return true;
  });
});

Deno.test("describePostgresTarget names host, port and database only", () => {
  assert.equal(
    describePostgresTarget("postgres://u:pw@db.example:6543/app?x=1"),
    "db.example:6543/app",
  );
  assert.equal(describePostgresTarget("postgresql://db/app"), "db:5432/app");
  assert.equal(describePostgresTarget("postgres://u@h1:1,h2/app"), "h1:1,h2:5432/app");
  assert.equal(describePostgresTarget("not a dsn pw"), "(invalid DSN)");
});

Deno.test("POSTGRES_MIGRATION_FILES lists exactly the files of migrations/postgres", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(POSTGRES_MIGRATIONS_DIR)) {
    if (entry.name.endsWith(".sql")) names.push(entry.name);
  }
  assert.deepEqual(names.sort(), [...POSTGRES_MIGRATION_FILES]);
});

pgTest(
  "postgres key packages: a take skips a package another transaction holds, never waits or repeats",
  async (s) => {
    const schema = await s.create();
    const stores = [
      await openPostgresStore(DSN!, { schema, migrate: true }),
      await openPostgresStore(DSN!, { schema }),
    ];
    const other = createPostgresClient(DSN!, { schema, poolSize: 1 });
    try {
      const [a, b] = stores;
      await a.createUser(user("alice"));
      await a.insertDevice(device("a1", "alice"));
      const now = new Date(T0.getTime() + 10_000);
      await a.storeKeyPackages("a1", [1, 2, 3].map((n) => keyPackage("a1", n)), 10, now);
      // Transaction 1 has locked the oldest package (a taker mid-way); transaction 2
      // (the store) must take the next one, not wait and not get the same one.
      let release!: () => void;
      const released = new Promise<void>((resolve) => release = resolve);
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => locked = resolve);
      const holder = other.begin(async (tx) => {
        const [row] = await tx`SELECT data FROM mls_key_package ORDER BY position LIMIT 1
        FOR UPDATE`;
        assert.deepEqual([...row.data], [1, 2, 3]);
        locked();
        await released;
        await tx`DELETE FROM mls_key_package WHERE data = ${row.data}`;
      });
      await isLocked;
      const second = await b.consumeKeyPackage("a1", now);
      assert.deepEqual([...second!.data], [2, 3, 4], "skipped the locked one");
      release();
      await holder;
      const third = await a.consumeKeyPackage("a1", now);
      assert.deepEqual([...third!.data], [3, 4, 5]);
      assert.equal(await b.consumeKeyPackage("a1", now), null);

      // Two pools racing: every package handed out exactly once.
      await a.storeKeyPackages(
        "a1",
        Array.from({ length: 20 }, (_, i) => keyPackage("a1", 10 + i)),
        50,
        now,
      );
      const taken = await Promise.all(
        Array.from({ length: 24 }, (_, i) => stores[i % 2].consumeKeyPackage("a1", now)),
      );
      const got = taken.filter((p) => p !== null).map((p) => p.data[0]);
      assert.equal(new Set(got).size, got.length);
    } finally {
      await other.end();
      for (const store of stores) await store.close();
    }
  },
);
