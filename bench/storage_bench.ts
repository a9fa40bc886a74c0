/**
 * Relay queue throughput of the SQLite store on a real file (WAL,
 * synchronous=NORMAL, the server's defaults).
 *
 *   scripts/deno bench --allow-read --allow-write --allow-env bench/storage_bench.ts
 *
 * @module
 */

import { openSqliteStore, type RelayEnvelope } from "../src/storage/mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "commucat-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const enqueueStore = await openSqliteStore(`${dir}/enqueue.db`, { migrate: true });
const drainStore = await openSqliteStore(`${dir}/drain.db`, { migrate: true });

const payload = new Uint8Array(100).fill(0xab);
const now = new Date();
const expires = new Date(now.getTime() + 86_400_000);
let nextId = 0;

function envelopes(deviceId: string, n: number): RelayEnvelope[] {
  const out: RelayEnvelope[] = new Array(n);
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

Deno.bench("enqueueRelay: 1 envelope of 100 B", { group: "enqueue" }, async (b) => {
  const batch = envelopes("device-a", 1);
  b.start();
  await enqueueStore.enqueueRelay(batch);
  b.end();
});

Deno.bench("enqueueRelay: batch of 100", { group: "enqueue", baseline: true }, async (b) => {
  const batch = envelopes("device-b", 100);
  b.start();
  await enqueueStore.enqueueRelay(batch);
  b.end();
});

Deno.bench("loadInbox + deleteRelay: 100 envelopes", { group: "drain" }, async (b) => {
  await drainStore.enqueueRelay(envelopes("device-c", 100));
  b.start();
  const inbox = await drainStore.loadInbox("device-c", { limit: 100, now });
  const removed = await drainStore.deleteRelay("device-c", inbox.map((e) => e.envelopeId));
  b.end();
  if (removed !== 100) throw new Error(`drained ${removed} of 100`);
});
