import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { BusMessage } from "./bus.ts";
import { connectRedis, parseBusMessage, RedisBus } from "./redis_bus.ts";
import { RedisConnection } from "./redis_connection.ts";

import { redisTest, redisUrl, uniquePrefix, waitFor } from "./redis_test_util.ts";

/** Resolves with `promise`, or fails the test when it takes longer than `timeoutMs`. */
async function within<T>(what: string, promise: Promise<T>, timeoutMs = 3_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port nothing listens on (it was free a moment ago). */
function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function collector(): { messages: BusMessage[]; handler: (m: BusMessage) => void } {
  const messages: BusMessage[] = [];
  return { messages, handler: (m) => messages.push(m) };
}

Deno.test("parseBusMessage: accepts each kind, drops extra fields, rejects malformed", () => {
  assert.deepEqual(parseBusMessage('{"kind":"inbox","deviceId":"d","extra":1}'), {
    kind: "offline-queue",
    deviceId: "d",
  });
  assert.deepEqual(parseBusMessage('{"kind":"frame","deviceId":"d","frame":"AAEC"}'), {
    kind: "frame",
    deviceId: "d",
    frame: "AAEC",
  });
  assert.deepEqual(parseBusMessage('{"kind":"route","channel":7,"from":"i"}'), {
    kind: "route",
    channel: 7,
    from: "i",
  });
  assert.deepEqual(parseBusMessage('{"kind":"kick","deviceId":"d","connectionId":"c"}'), {
    kind: "kick",
    deviceId: "d",
    connectionId: "c",
  });
  assert.deepEqual(parseBusMessage('{"kind":"offline-queue","deviceId":"d"}'), {
    kind: "offline-queue",
    deviceId: "d",
  });
  // The row rides along: its envelope id and the encoded frame.
  assert.deepEqual(
    parseBusMessage('{"kind":"offline-queue","deviceId":"d","envelopeId":"e","frame":"AAEC"}'),
    { kind: "offline-queue", deviceId: "d", envelopeId: "e", frame: "AAEC" },
  );
  // Half a carried row, or a malformed frame, is a plain notice (the holder reads the queue).
  for (
    const raw of [
      '{"kind":"offline-queue","deviceId":"d","frame":"AAEC"}',
      '{"kind":"offline-queue","deviceId":"d","envelopeId":"e","frame":"not base64!"}',
    ]
  ) {
    assert.deepEqual(parseBusMessage(raw), { kind: "offline-queue", deviceId: "d" });
  }
  // Several rows for one instance, in order; a malformed row alone is skipped.
  assert.deepEqual(
    parseBusMessage(JSON.stringify({
      kind: "offline-queue-rows",
      rows: [
        { deviceId: "d", envelopeId: "e1", frame: "AAEC" },
        { envelopeId: "no-device" },
        { deviceId: "d2" },
        { deviceId: "d", envelopeId: "e2", frame: "bad!" },
      ],
    })),
    {
      kind: "offline-queue-rows",
      rows: [
        { deviceId: "d", envelopeId: "e1", frame: "AAEC" },
        { deviceId: "d2" },
        { deviceId: "d" },
      ],
    },
  );
  for (
    const raw of [
      '{"kind":"offline-queue-rows","rows":[]}',
      '{"kind":"offline-queue-rows","rows":"d"}',
      '{"kind":"offline-queue-rows","rows":[{"x":1}]}',
    ]
  ) {
    assert.equal(parseBusMessage(raw), null, raw);
  }
  // A copy held by its origin (no row yet) names the origin; the answers name copies.
  assert.deepEqual(
    parseBusMessage(
      '{"kind":"offline-queue","deviceId":"d","envelopeId":"e","frame":"AAEC","origin":"a"}',
    ),
    { kind: "offline-queue", deviceId: "d", envelopeId: "e", frame: "AAEC", origin: "a" },
  );
  assert.deepEqual(
    parseBusMessage(
      '{"kind":"kept-copies","acked":[{"deviceId":"d","envelopeId":"e","x":1}],"released":[]}',
    ),
    { kind: "kept-copies", acked: [{ deviceId: "d", envelopeId: "e" }], released: [] },
  );
  assert.deepEqual(
    parseBusMessage('{"kind":"kept-copies","released":[{"deviceId":"d","envelopeId":"e"}]}'),
    { kind: "kept-copies", acked: [], released: [{ deviceId: "d", envelopeId: "e" }] },
  );
  for (
    const raw of [
      '{"kind":"kept-copies","acked":[],"released":[]}',
      '{"kind":"kept-copies","acked":[{"deviceId":"d"}]}',
      '{"kind":"kept-copies","acked":"e"}',
    ]
  ) {
    assert.equal(parseBusMessage(raw), null, raw);
  }
  // Revocation: no live connection id spared, and the reason travels.
  assert.deepEqual(
    parseBusMessage('{"kind":"kick","deviceId":"d","connectionId":"","reason":"revoked"}'),
    { kind: "kick", deviceId: "d", connectionId: "", reason: "revoked" },
  );
  for (
    const raw of [
      "",
      "not json",
      "null",
      "[]",
      '"inbox"',
      '{"kind":"inbox"}',
      '{"kind":"inbox","deviceId":""}',
      '{"kind":"inbox","deviceId":5}',
      '{"kind":"frame","deviceId":"d","frame":"not base64!"}',
      '{"kind":"route","channel":-1,"from":"i"}',
      '{"kind":"route","channel":1.5,"from":"i"}',
      '{"kind":"route","channel":"7","from":"i"}',
      '{"kind":"route","channel":7}',
      '{"kind":"kick","deviceId":"d"}',
      '{"kind":"shutdown"}',
    ]
  ) {
    assert.equal(parseBusMessage(raw), null, raw);
  }
});

redisTest("RedisBus: two instances exchange direct messages and broadcasts", async () => {
  const keyPrefix = uniquePrefix("bus-exchange");
  const a = new RedisBus({ url: redisUrl!, keyPrefix });
  const b = new RedisBus({ url: redisUrl!, keyPrefix });
  const atA = collector();
  const atB = collector();
  try {
    await a.subscribe("instance-a", atA.handler);
    await b.subscribe("instance-b", atB.handler);
    await waitFor("both buses healthy", () => a.healthy && b.healthy);
    await a.ping();

    await a.send("instance-b", { kind: "offline-queue", deviceId: "dev-b" });
    await b.send("instance-a", { kind: "kick", deviceId: "dev-a", connectionId: "conn-1" });
    await b.send("instance-a", { kind: "frame", deviceId: "dev-a", frame: "AAECAw==" });
    await waitFor("direct messages", () => atA.messages.length === 2 && atB.messages.length === 1);
    assert.deepEqual(atB.messages, [{ kind: "offline-queue", deviceId: "dev-b" }]);
    assert.deepEqual(atA.messages, [
      { kind: "kick", deviceId: "dev-a", connectionId: "conn-1" },
      { kind: "frame", deviceId: "dev-a", frame: "AAECAw==" },
    ]);

    // A broadcast reaches every instance, the sender included.
    await a.broadcast({ kind: "route", channel: 42, from: "instance-a" });
    await waitFor("broadcast", () => atA.messages.length === 3 && atB.messages.length === 2);
    assert.deepEqual(atA.messages[2], { kind: "route", channel: 42, from: "instance-a" });
    assert.deepEqual(atB.messages[1], { kind: "route", channel: 42, from: "instance-a" });

    // A message for an instance nobody runs goes nowhere (and still resolves).
    await a.send("instance-c", { kind: "offline-queue", deviceId: "dev-c" });
    await a.send("instance-b", { kind: "offline-queue", deviceId: "dev-b2" });
    await waitFor("later direct message", () => atB.messages.length === 3);
    assert.equal(atA.messages.length, 3);
    assert.equal(a.stats.dropped, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

redisTest(
  "RedisBus: held-copies travel as bytes; malformed bytes are ignored and counted",
  async () => {
    const keyPrefix = uniquePrefix("bus-held");
    const a = new RedisBus({ url: redisUrl!, keyPrefix });
    const b = new RedisBus({ url: redisUrl!, keyPrefix });
    const raw = new RedisConnection({ url: redisUrl! }, "test");
    let spy: RedisConnection | null = null;
    const atB = collector();
    try {
      await a.subscribe("instance-a", () => {});
      await b.subscribe("instance-b", atB.handler);
      await waitFor("buses healthy", () => a.healthy && b.healthy && raw.ready);
      const held: BusMessage = {
        kind: "held-copies",
        from: "instance-a",
        copies: [{ deviceId: "dev-b", envelopeId: "k-1", frame: new Uint8Array([0, 255, 7]) }],
        acked: [{ deviceId: "dev-a", envelopeId: "k-2" }],
        released: [],
      };
      // Not JSON on the wire: the bytes start with the binary marker.
      let wire: Uint8Array | null = null;
      let listening = false;
      spy = new RedisConnection({ url: redisUrl! }, "spy", {
        onReady: () => {
          spy!.client.subscribe(b.channelOf("instance-b")).then(() => (listening = true));
        },
        onMessage: (_channel, message) => {
          wire ??= new Uint8Array(message);
        },
      });
      await waitFor("the spy listening", () => listening);
      await a.send("instance-b", held);
      await waitFor("the bytes on the wire", () => wire !== null);
      assert.equal(wire![0], 0xc1);
      await raw.client.publish(b.channelOf("instance-b"), Buffer.from([0xc1, 0, 1])); // truncated
      await a.send("instance-b", { kind: "offline-queue", deviceId: "last" });
      await waitFor("messages", () => atB.messages.length === 2);
      assert.deepEqual(atB.messages, [held, { kind: "offline-queue", deviceId: "last" }]);
      assert.equal(b.stats.malformed, 1);
    } finally {
      await a.close();
      await b.close();
      await raw.close();
      await spy?.close();
    }
  },
);

redisTest("RedisBus: buses with different key prefixes do not hear each other", async () => {
  const a = new RedisBus({ url: redisUrl!, keyPrefix: uniquePrefix("bus-iso-a") });
  const b = new RedisBus({ url: redisUrl!, keyPrefix: uniquePrefix("bus-iso-b") });
  const atA = collector();
  const atB = collector();
  try {
    await a.subscribe("same", atA.handler);
    await b.subscribe("same", atB.handler);
    await waitFor("both buses healthy", () => a.healthy && b.healthy);
    await a.broadcast({ kind: "offline-queue", deviceId: "x" });
    await a.send("same", { kind: "offline-queue", deviceId: "y" });
    await waitFor("own messages", () => atA.messages.length === 2);
    assert.equal(atB.messages.length, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

redisTest("RedisBus: malformed messages on its channels are ignored and counted", async () => {
  const keyPrefix = uniquePrefix("bus-malformed");
  const bus = new RedisBus({ url: redisUrl!, keyPrefix });
  const raw = new RedisConnection({ url: redisUrl! }, "test");
  const received = collector();
  try {
    await bus.subscribe("instance-b", received.handler);
    await waitFor("bus and raw connection", () => bus.healthy && raw.ready);
    const direct = bus.channelOf("instance-b");
    for (const junk of ["not json", '{"kind":"inbox"}', '{"kind":"nope"}', "[]"]) {
      await raw.client.publish(direct, junk);
    }
    await raw.client.publish(bus.broadcastChannel, '{"kind":"route","channel":-3,"from":"x"}');
    // Sent last on the same connection: when it arrives, the junk has been handled.
    await raw.client.publish(direct, '{"kind":"offline-queue","deviceId":"dev-1"}');
    await waitFor("the valid message", () => received.messages.length === 1);
    assert.deepEqual(received.messages, [{ kind: "offline-queue", deviceId: "dev-1" }]);
    assert.equal(bus.stats.malformed, 5);
    assert.equal(bus.stats.received, 1);
    assert.equal(bus.healthy, true);
  } finally {
    await bus.close();
    await raw.close();
  }
});

redisTest("connectRedis: presence and bus over the same settings", async () => {
  const backends = connectRedis(redisUrl!, { keyPrefix: uniquePrefix("connect") });
  const received = collector();
  try {
    await backends.bus.subscribe("instance-a", received.handler);
    await waitFor("healthy", () => backends.bus.healthy && backends.presence.healthy);
    await backends.presence.set("dev-1", "online", "instance-a", 30);
    const entry = await backends.presence.get("dev-1");
    assert.equal(entry?.instance, "instance-a");
    await backends.bus.send(entry.instance, { kind: "offline-queue", deviceId: "dev-1" });
    await waitFor("notice", () => received.messages.length === 1);
  } finally {
    await backends.close();
  }
});

Deno.test("RedisBus: against an unreachable Redis it starts degraded and never blocks", async () => {
  const bus = new RedisBus({ url: `redis://127.0.0.1:${unusedPort()}` });
  const received = collector();
  try {
    assert.equal(bus.healthy, false);
    await within("subscribe", bus.subscribe("instance-a", received.handler));
    await within("send", bus.send("instance-b", { kind: "offline-queue", deviceId: "d" }));
    await within("broadcast", bus.broadcast({ kind: "route", channel: 1, from: "instance-a" }));
    await within("ping", assert.rejects(bus.ping()));
    assert.equal(bus.healthy, false);
    assert.equal(bus.stats.dropped, 2);
    assert.equal(bus.stats.published, 0);
  } finally {
    await bus.close();
  }
});

Deno.test("connectRedis: an unreachable Redis does not throw; both start degraded", async () => {
  const backends = connectRedis(`redis://127.0.0.1:${unusedPort()}`);
  try {
    assert.equal(backends.bus.healthy, false);
    assert.equal(backends.presence.healthy, false);
    await within("presence ping", assert.rejects(backends.presence.ping()));
  } finally {
    await backends.close();
  }
});

const redisServer = (() => {
  try {
    const out = new Deno.Command("redis-server", { args: ["--version"], stdout: "null" })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
})();

/** A throwaway redis-server on `port` (no persistence). */
async function startRedisServer(port: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor(`redis-server on port ${port}`, async () => {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      return false;
    }
  });
  return child;
}

async function stopRedisServer(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await child.status;
}

Deno.test({
  name: redisServer
    ? "RedisBus: survives Redis dying and resubscribes when it comes back"
    : "RedisBus: survives Redis dying and resubscribes when it comes back (skipped: no redis-server binary)",
  ignore: !redisServer,
  fn: async () => {
    const port = unusedPort();
    const url = `redis://127.0.0.1:${port}`;
    let server = await startRedisServer(port);
    const a = new RedisBus({ url });
    const b = new RedisBus({ url });
    const atB = collector();
    try {
      await a.subscribe("instance-a", () => {});
      await b.subscribe("instance-b", atB.handler);
      await waitFor("buses healthy", () => a.healthy && b.healthy);
      await a.send("instance-b", { kind: "offline-queue", deviceId: "before" });
      await waitFor("message before the outage", () => atB.messages.length === 1);

      await stopRedisServer(server);
      await waitFor("buses unhealthy", () => !a.healthy && !b.healthy);
      await within(
        "send while down",
        a.send("instance-b", { kind: "offline-queue", deviceId: "lost" }),
      );
      await within("ping while down", assert.rejects(a.ping()));
      assert.ok(a.stats.dropped >= 1);

      server = await startRedisServer(port);
      await waitFor("buses healthy again", () => a.healthy && b.healthy, 20_000);
      await a.send("instance-b", { kind: "offline-queue", deviceId: "after" });
      await a.broadcast({ kind: "route", channel: 9, from: "instance-a" });
      await waitFor("messages after recovery", () => atB.messages.length === 3);
      assert.deepEqual(atB.messages, [
        { kind: "offline-queue", deviceId: "before" },
        { kind: "offline-queue", deviceId: "after" },
        { kind: "route", channel: 9, from: "instance-a" },
      ]);
      await a.ping();
    } finally {
      await a.close();
      await b.close();
      await stopRedisServer(server);
    }
  },
});

Deno.test({
  name: redisServer
    ? "connectRedis: started while Redis is down, recovers by itself when it comes up"
    : "connectRedis: started while Redis is down, recovers by itself when it comes up (skipped: no redis-server binary)",
  ignore: !redisServer,
  fn: async () => {
    const port = unusedPort();
    const backends = connectRedis(`redis://127.0.0.1:${port}`);
    const received = collector();
    let server: Deno.ChildProcess | null = null;
    try {
      await within("subscribe while down", backends.bus.subscribe("instance-a", received.handler));
      assert.equal(backends.bus.healthy, false);
      await within("presence ping while down", assert.rejects(backends.presence.ping()));
      await within(
        "send while down",
        backends.bus.send("instance-a", { kind: "offline-queue", deviceId: "lost" }),
      );

      server = await startRedisServer(port);
      await waitFor(
        "recovery",
        () => backends.bus.healthy && backends.presence.healthy,
        20_000,
      );
      await backends.presence.ping();
      await backends.presence.set("dev-1", "online", "instance-a", 30);
      assert.equal((await backends.presence.get("dev-1"))?.instance, "instance-a");
      await backends.bus.send("instance-a", { kind: "offline-queue", deviceId: "dev-1" });
      await waitFor("notice after recovery", () => received.messages.length === 1);
      assert.deepEqual(received.messages, [{ kind: "offline-queue", deviceId: "dev-1" }]);
    } finally {
      await backends.close();
      if (server) await stopRedisServer(server);
    }
  },
});
