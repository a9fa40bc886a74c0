import assert from "node:assert/strict";
import { RedisConnection } from "./redis_connection.ts";
import { RedisPresence } from "./redis_presence.ts";

import { redisTest, redisUrl, uniquePrefix, waitFor } from "./redis_test_util.ts";

/** A port nothing listens on (it was free a moment ago). */
function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

redisTest("RedisPresence: set then get returns the entry, stored upstream-style", async () => {
  const keyPrefix = uniquePrefix("presence-set");
  const presence = new RedisPresence({ url: redisUrl!, keyPrefix });
  const raw = new RedisConnection({ url: redisUrl! }, "test");
  try {
    await waitFor("presence connected", () => presence.healthy);
    await presence.ping();
    assert.equal(await presence.get("dev-1"), null);
    const before = Date.now();
    await presence.set("dev-1", "online", "instance-a", 30);
    const entry = await presence.get("dev-1");
    assert.ok(entry);
    assert.equal(entry.deviceId, "dev-1");
    assert.equal(entry.state, "online");
    assert.equal(entry.instance, "instance-a");
    assert.ok(entry.expiresAt.getTime() >= before + 29_000);

    await waitFor("raw connection", () => raw.ready);
    const key = `${keyPrefix}presence:dev-1`;
    const stored = JSON.parse((await raw.client.get(key))!);
    assert.deepEqual(Object.keys(stored).sort(), ["entity", "expires_at", "instance", "state"]);
    assert.equal(stored.entity, "dev-1");
    assert.match(stored.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const ttl = await raw.client.ttl(key);
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);

    await presence.set("dev-1", "away", "instance-b", 30);
    assert.equal((await presence.get("dev-1"))?.state, "away");
    assert.equal((await presence.get("dev-1"))?.instance, "instance-b");
  } finally {
    await presence.close();
    await raw.close();
  }
});

redisTest("RedisPresence: getMany reads several entries in one look-up, in order", async () => {
  const keyPrefix = uniquePrefix("presence-many");
  const presence = new RedisPresence({ url: redisUrl!, keyPrefix });
  const raw = new RedisConnection({ url: redisUrl! }, "test");
  try {
    await waitFor("presence connected", () => presence.healthy);
    await waitFor("raw connection", () => raw.ready);
    assert.deepEqual(await presence.getMany([]), []);
    await presence.set("m-1", "online", "instance-a", 30);
    await presence.set("m-3", "online", "instance-b", 30);
    await raw.client.set(`${keyPrefix}presence:m-4`, "not json");
    const entries = await presence.getMany(["m-1", "m-2", "m-3", "m-4"]);
    assert.deepEqual(entries.map((e) => e?.instance ?? null), [
      "instance-a",
      null,
      "instance-b",
      null,
    ]);
    assert.equal(entries[2]?.deviceId, "m-3");
  } finally {
    await presence.close();
    await raw.close();
  }
});

redisTest("RedisPresence: an entry expires after its TTL", async () => {
  const presence = new RedisPresence({ url: redisUrl!, keyPrefix: uniquePrefix("presence-ttl") });
  try {
    await waitFor("presence connected", () => presence.healthy);
    await presence.set("dev-ttl", "online", "instance-a", 1);
    assert.ok(await presence.get("dev-ttl"));
    await waitFor("presence expiry", async () => (await presence.get("dev-ttl")) === null);
    // A fractional or zero TTL still lasts at least a second instead of failing.
    await presence.set("dev-zero", "online", "instance-a", 0);
    assert.ok(await presence.get("dev-zero"));
  } finally {
    await presence.close();
  }
});

redisTest("RedisPresence: clear removes the entry only for the instance holding it", async () => {
  const keyPrefix = uniquePrefix("presence-clear");
  const a = new RedisPresence({ url: redisUrl!, keyPrefix });
  const b = new RedisPresence({ url: redisUrl!, keyPrefix });
  try {
    await waitFor("presences connected", () => a.healthy && b.healthy);
    await a.set("dev-1", "online", "instance-a", 30);
    // The device moved to instance b; a late clear from a must not remove it.
    await b.set("dev-1", "online", "instance-b", 30);
    await a.clear("dev-1", "instance-a");
    assert.equal((await a.get("dev-1"))?.instance, "instance-b");
    await b.clear("dev-1", "instance-b");
    assert.equal(await a.get("dev-1"), null);
    // Clearing what is not there is fine.
    await b.clear("dev-1", "instance-b");
    await b.clear("never-seen", "instance-b");
  } finally {
    await a.close();
    await b.close();
  }
});

redisTest(
  "RedisPresence: unreadable stored values read as offline; others cannot clear them",
  async () => {
    const keyPrefix = uniquePrefix("presence-bad");
    const presence = new RedisPresence({ url: redisUrl!, keyPrefix });
    const raw = new RedisConnection({ url: redisUrl! }, "test");
    try {
      await waitFor("connections", () => presence.healthy && raw.ready);
      const values = [
        "not json",
        "[1,2]",
        JSON.stringify({ entity: "d", expires_at: "2999-01-01T00:00:00Z", state: "online" }),
        JSON.stringify({ entity: "d", expires_at: "soon", state: "online", instance: "i" }),
      ];
      for (const [i, value] of values.entries()) {
        await raw.client.setex(`${keyPrefix}presence:bad-${i}`, 30, value);
        assert.equal(await presence.get(`bad-${i}`), null, value);
        await presence.clear(`bad-${i}`, "someone-else");
        assert.equal(await raw.client.get(`${keyPrefix}presence:bad-${i}`), value);
      }
    } finally {
      await presence.close();
      await raw.close();
    }
  },
);

Deno.test("RedisPresence: starts degraded against an unreachable Redis and fails fast", async () => {
  const presence = new RedisPresence({ url: `redis://127.0.0.1:${unusedPort()}` });
  try {
    assert.equal(presence.healthy, false);
    await assert.rejects(presence.ping());
    await assert.rejects(presence.set("dev-1", "online", "instance-a", 30));
    await assert.rejects(presence.get("dev-1"));
    await assert.rejects(presence.clear("dev-1", "instance-a"));
    assert.equal(presence.healthy, false);
  } finally {
    await presence.close();
  }
});

Deno.test("RedisPresence: a malformed URL is a TypeError that does not echo the URL", () => {
  for (const url of ["not a url", "http://user:hunter2@example.org", "redis://"]) {
    assert.throws(
      () => new RedisPresence({ url }),
      (error: unknown) => error instanceof TypeError && !error.message.includes("hunter2"),
    );
  }
});
