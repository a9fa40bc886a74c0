/**
 * Relay queue throughput of the SQLite store on a real file (WAL,
 * synchronous=NORMAL, the server's defaults), and of the PostgreSQL store
 * when `COMMUCAT_TEST_PG_DSN` is set (in schema `commucat_bench`, dropped and
 * recreated at the start of each run):
 *
 *   scripts/deno bench --allow-read --allow-write --allow-env bench/storage_bench.ts
 *   COMMUCAT_TEST_PG_DSN=postgres://postgres@127.0.0.1:5432/test \
 *     scripts/deno bench --allow-read --allow-write --allow-env --allow-net --allow-sys \
 *     bench/storage_bench.ts
 *
 * @module
 */

import postgres from "postgres";
import { type OfflineEnvelope, openStore, type Store } from "../src/storage/mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "commucat-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const enqueueStore = await openStore({ backend: "sqlite", path: `${dir}/enqueue.db` }, {
  migrate: true,
});
const drainStore = await openStore({ backend: "sqlite", path: `${dir}/drain.db` }, {
  migrate: true,
});

const payload = new Uint8Array(100).fill(0xab);
const now = new Date();
const expires = new Date(now.getTime() + 86_400_000);
let nextId = 0;

function envelopes(deviceId: string, n: number): OfflineEnvelope[] {
  const out: OfflineEnvelope[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      envelopeId: `env-${nextId++}`,
      deviceId,
      payload,
      deliverAfter: now,
      expiresAt: expires,
    };
  }
  return out;
}

Deno.bench("enqueueOffline: 1 envelope of 100 B", { group: "enqueue" }, async (b) => {
  const batch = envelopes("device-a", 1);
  b.start();
  await enqueueStore.enqueueOffline(batch);
  b.end();
});

Deno.bench("enqueueOffline: batch of 100", { group: "enqueue", baseline: true }, async (b) => {
  const batch = envelopes("device-b", 100);
  b.start();
  await enqueueStore.enqueueOffline(batch);
  b.end();
});

Deno.bench("loadOfflineQueue + deleteOffline: 100 envelopes", { group: "drain" }, async (b) => {
  await drainStore.enqueueOffline(envelopes("device-c", 100));
  b.start();
  const inbox = await drainStore.loadOfflineQueue("device-c", { limit: 100, now });
  const removed = await drainStore.deleteOffline("device-c", inbox.map((e) => e.envelopeId));
  b.end();
  if (removed !== 100) throw new Error(`drained ${removed} of 100`);
});

/** The PostgreSQL store in a fresh `commucat_bench` schema, or null (with the reason printed). */
async function openPostgresBenchStore(): Promise<Store | null> {
  const dsn = Deno.env.get("COMMUCAT_TEST_PG_DSN");
  if (!dsn) {
    console.error("storage_bench: postgres cases skipped: COMMUCAT_TEST_PG_DSN not set");
    return null;
  }
  if ((await Deno.permissions.query({ name: "net" })).state !== "granted") {
    console.error("storage_bench: postgres cases skipped: run with --allow-net");
    return null;
  }
  const schema = "commucat_bench";
  const admin = postgres(dsn, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    return await openStore({ backend: "postgres", dsn, schema, poolSize: 4 }, { migrate: true });
  } catch (error) {
    console.error(`storage_bench: postgres cases skipped: ${(error as Error).message}`);
    return null;
  } finally {
    await admin.end({ timeout: 0 });
  }
}

const pg = await openPostgresBenchStore();
if (pg !== null) {
  Deno.bench("postgres enqueueOffline: 1 envelope of 100 B", { group: "pg enqueue" }, async (b) => {
    const batch = envelopes("pg-device-a", 1);
    b.start();
    await pg.enqueueOffline(batch);
    b.end();
  });

  Deno.bench(
    "postgres enqueueOffline: batch of 100",
    { group: "pg enqueue", baseline: true },
    async (b) => {
      const batch = envelopes("pg-device-b", 100);
      b.start();
      await pg.enqueueOffline(batch);
      b.end();
    },
  );

  Deno.bench(
    "postgres loadOfflineQueue + deleteOffline: 100 envelopes",
    { group: "pg drain" },
    async (b) => {
      await pg.enqueueOffline(envelopes("pg-device-c", 100));
      b.start();
      const inbox = await pg.loadOfflineQueue("pg-device-c", { limit: 100, now });
      const removed = await pg.deleteOffline("pg-device-c", inbox.map((e) => e.envelopeId));
      b.end();
      if (removed !== 100) throw new Error(`drained ${removed} of 100`);
    },
  );
}
