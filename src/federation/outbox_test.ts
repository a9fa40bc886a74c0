import assert from "node:assert/strict";
import { silentLogger } from "../log/mod.ts";
import { openStore } from "../storage/mod.ts";
import { backoffMs, FederationOutbox } from "./outbox.ts";
import { PeerDirectory } from "./peers.ts";

const log = silentLogger;

Deno.test("backoffMs: 5 s doubling, capped at 300 s", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map(backoffMs), [
    5_000,
    10_000,
    20_000,
    40_000,
    80_000,
    160_000,
    300_000,
    300_000,
  ]);
});

Deno.test("outbox: retries 5xx with backoff, dead-letters a 4xx refusal and expired entries", async () => {
  const statuses: number[] = [];
  const paths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    paths.push(new URL(req.url).pathname);
    return new Response("{}", { status: statuses.shift() ?? 202 });
  });
  const store = await openStore({ backend: "sqlite", path: ":memory:" }, { migrate: true });
  let clock = 1_000_000;
  const dead: string[] = [];
  let delivered = 0;
  const peer = {
    domain: "b.test",
    endpoint: `http://127.0.0.1:${server.addr.port}/`,
    publicKey: new Uint8Array(32),
  };
  const outbox = new FederationOutbox({
    store,
    peers: new PeerDirectory(store, [peer]),
    log,
    userAgent: "commucat-federation/test",
    newId: (c) => `${c}:${crypto.randomUUID()}`,
    now: () => clock,
    maxAgeMs: 60_000,
    recordDeadLetter: (_e, reason) => void dead.push(reason),
    onDelivered: () => delivered++,
  });
  try {
    statuses.push(503);
    await store.enqueueFederationOutbox({
      outboxId: "e1",
      destinationDomain: "b.test",
      endpoint: peer.endpoint,
      payload: '{"event":{}}',
      publicKey: peer.publicKey,
      nextAttemptAt: new Date(clock),
      createdAt: new Date(clock),
    });
    await outbox.tick();
    let [row] = await store.listFederationOutbox(10);
    assert.equal(row.attempts, 1);
    assert.match(row.lastError ?? "", /^HTTP 503/);
    assert.equal(row.nextAttemptAt.getTime(), clock + 5_000);
    await outbox.tick(); // not due yet
    assert.equal(paths.length, 1);
    clock += 5_000;
    await outbox.tick();
    assert.equal(delivered, 1);
    assert.deepEqual(await store.listFederationOutbox(10), []);
    assert.deepEqual(paths, ["/federation/events", "/federation/events"]);

    // A refusal (403) is final; a body without "event" goes to friend-request.
    statuses.push(403);
    await store.enqueueFederationOutbox({
      outboxId: "e2",
      destinationDomain: "b.test",
      endpoint: peer.endpoint,
      payload: '{"type":"friend_request"}',
      publicKey: peer.publicKey,
      nextAttemptAt: new Date(clock),
      createdAt: new Date(clock),
    });
    await outbox.tick();
    assert.equal(paths.at(-1), "/federation/friend-request");
    assert.deepEqual(await store.listFederationOutbox(10), []);
    assert.match(dead[0], /^HTTP 403/);

    // Too old: a failure after maxAgeMs dead-letters instead of retrying.
    statuses.push(500);
    await store.enqueueFederationOutbox({
      outboxId: "e3",
      destinationDomain: "b.test",
      endpoint: peer.endpoint,
      payload: '{"event":{}}',
      publicKey: peer.publicKey,
      nextAttemptAt: new Date(clock),
      createdAt: new Date(clock - 61_000),
    });
    await outbox.tick();
    assert.deepEqual(await store.listFederationOutbox(10), []);
    assert.match(dead[1], /^expired: HTTP 500/);
    [row] = await store.listFederationOutbox(10);
    assert.equal(row, undefined);
  } finally {
    await outbox.stop();
    await server.shutdown();
    await store.close();
  }
});
