/**
 * Health, readiness, server-info and unknown paths over real HTTPS.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { toHex } from "../src/crypto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("healthz, readyz, server-info and 404 problem+json", async () => {
  const srv = await startTestServer();
  const http = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    const health = await (await fetch(`${srv.url}/healthz`, { client: http })).json();
    assert.equal(health.status, "healthy");
    assert.equal(health.storage, "sqlite");
    assert.equal(health.connections.established, 1);
    assert.equal(health.handshakes.ok, 1);
    a.close();

    const ready = await fetch(`${srv.url}/readyz`, { client: http });
    assert.equal(ready.status, 200);
    assert.deepEqual((await ready.json()).checks, { storage: "ok", presence: "ok", bus: "ok" });

    const info = await (await fetch(`${srv.url}/api/server-info`, { client: http })).json();
    assert.equal(info.noise_public, toHex(srv.noisePublic));
    assert.deepEqual(info.supported_patterns, ["XK", "IK", "XKhfs", "IKhfs"]);
    assert.equal(info.domain, srv.domain);

    const missing = await fetch(`${srv.url}/no/such/path`, { client: http });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-type"), "application/problem+json");
    assert.equal((await missing.json()).status, 404);
  } finally {
    http.close();
    await srv.stop();
  }
});

Deno.test("readyz turns 503 degraded when storage is gone", async () => {
  const srv = await startTestServer();
  const http = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    await srv.server.store.close();
    const ready = await fetch(`${srv.url}/readyz`, { client: http });
    assert.equal(ready.status, 503);
    const body = await ready.json();
    assert.equal(body.status, "degraded");
    assert.notEqual(body.checks.storage, "ok");
  } finally {
    http.close();
    // The injected store fails on purpose: its close may fail too; the test is about /readyz.
    await srv.stop().catch(() => {});
  }
});

Deno.test("relay_ttl: expired queue rows are never delivered and get purged", async () => {
  const srv = await startTestServer({ relayTtlSeconds: 1 });
  try {
    const alice = newDevice("alice");
    const bob = newDevice("bob");
    const b = await CommuCatClient.connect(connectOptions(srv, bob));
    b.close();
    const a = await CommuCatClient.connect(connectOptions(srv, alice));
    await befriend(srv, a, b);
    await a.join(4, [bob.deviceId]);
    await a.send(4, "short-lived");
    const store = srv.server.store;
    assert.equal(await store.countOfflineQueue(bob.deviceId, new Date()), 1);
    const later = new Date(Date.now() + 2_000);
    assert.equal(await store.countOfflineQueue(bob.deviceId, later), 0);
    assert.equal(await store.purgeExpiredOffline(later), 1);
    a.close();
  } finally {
    await srv.stop();
  }
});
