/**
 * The client that finds a way: an ordered transport list where the first
 * paths are blocked the way censors block (closed port, TCP RST after the
 * ClientHello, a black hole), and the client reaches the server by the next
 * one, reporting each failure's censorship signal.
 */
import assert from "node:assert/strict";
import {
  CommuCatClient,
  connectThroughTransports,
  NoTransportError,
  type TransportAttempt,
} from "../src/client/mod.ts";
import {
  DirectTransport,
  ShadowsocksTransport,
  Socks5Transport,
  transportsFromSpecs,
  TransportSpecError,
  WebSocketPathTransport,
} from "../src/client/transports/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { api, befriend } from "./helpers/api.ts";
import { blackHole, closedPort, resetProxy, tlsInterceptor } from "./helpers/censor.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

Deno.test("blocked paths (RST, closed port, black hole) fall through to a working one", async () => {
  // The server also serves /connect at an unguessable path (a CDN forwards only that path).
  const srv = await startTestServer({ websocketPath: "/c7f3a9" });
  const rst = await resetProxy();
  const hole = blackHole();
  try {
    const device = newDevice("fallback");
    const attempts: TransportAttempt[] = [];
    // The profile's URL is the censored address: direct TLS to it gets a RST.
    const censoredUrl = `https://localhost:${rst.port}`;
    const { client, transport } = await within(
      connectThroughTransports(
        connectOptions(srv, device, { url: censoredUrl }),
        [
          new DirectTransport(),
          new WebSocketPathTransport(`https://localhost:${closedPort()}/c7f3a9`),
          new WebSocketPathTransport(`https://localhost:${hole.port}/connect`),
          new WebSocketPathTransport(`${srv.url}/c7f3a9`),
        ],
        { attemptTimeoutMs: 4_000, onAttempt: (a) => attempts.push(a) },
      ),
      "the fallback",
    );
    try {
      assert.equal(transport.label, `websocket ${srv.url}/c7f3a9`);
      assert.equal(client.mode, "websocket");
      assert.deepEqual(
        attempts.map((a) => [a.kind, a.ok, a.signal]),
        [
          ["direct", false, "reset"],
          ["websocket", false, "refused"],
          ["websocket", false, "timeout"],
          ["websocket", true, undefined],
        ],
      );
      assert.ok(rst.seen >= 1 && hole.seen >= 1, "the censors saw the blocked attempts");
      // /api/p2p/assist lists the path as a way in of its own (on the TLS port, WebSocket only).
      const assist = await within(api(srv, "GET", "/api/p2p/assist", { as: client }), "assist");
      assert.equal(assist.status, 200, assist.text);
      const offered = assist.body!.transports as Record<string, unknown>[];
      assert.deepEqual(
        offered.filter((t) => t.kind === "websocket-path").map((t) => [t.path, t.port, t.modes]),
        [["/c7f3a9", srv.server.addr.port, ["websocket"]]],
      );
    } finally {
      client.close();
      await client.finished;
    }
  } finally {
    rst.stop();
    hole.stop();
    await srv.stop();
  }
});

Deno.test("direct TLS reset and the CDN path refused: the client gets through by Shadowsocks", async () => {
  const srv = await startTestServer({
    shadowsocks: {
      hostname: "127.0.0.1",
      port: 0,
      method: "chacha20-ietf-poly1305",
      password: "fallback-password",
    },
  });
  const rst = await resetProxy();
  try {
    const attempts: TransportAttempt[] = [];
    const { client, transport } = await within(
      connectThroughTransports(
        connectOptions(srv, newDevice("ssfallback"), { url: `https://localhost:${rst.port}` }),
        transportsFromSpecs([
          { kind: "direct" },
          { kind: "websocket", url: `https://localhost:${closedPort()}/c7f3a9` },
          {
            kind: "shadowsocks",
            server: `127.0.0.1:${srv.server.shadowsocksAddr!.port}`,
            method: "chacha20-ietf-poly1305",
            password: "fallback-password",
          },
        ]),
        { attemptTimeoutMs: 20_000, onAttempt: (a) => attempts.push(a) },
      ),
      "the fallback to Shadowsocks",
    );
    try {
      assert.ok(transport instanceof ShadowsocksTransport);
      assert.deepEqual(attempts.map((a) => [a.kind, a.signal ?? "ok"]), [
        ["direct", "reset"],
        ["websocket", "refused"],
        ["shadowsocks", "ok"],
      ]);
      // The session works: a request round trip through the tunnel.
      await within(client.join(11, []), "a join through the tunnel");
    } finally {
      client.close();
      await client.finished;
    }
  } finally {
    rst.stop();
    await srv.stop();
  }
});

Deno.test("a replaced certificate is a 'tls' signal, and the next transport gets through", async () => {
  const srv = await startTestServer();
  const mitm = await tlsInterceptor();
  try {
    const attempts: TransportAttempt[] = [];
    const { client } = await within(
      connectThroughTransports(
        connectOptions(srv, newDevice("mitm"), { url: `https://localhost:${mitm.port}` }),
        [new DirectTransport(), new WebSocketPathTransport(`${srv.url}/connect`)],
        { attemptTimeoutMs: 20_000, onAttempt: (a) => attempts.push(a) },
      ),
      "the fallback past the interceptor",
    );
    client.close();
    await client.finished;
    assert.deepEqual(attempts.map((a) => [a.kind, a.signal ?? "ok"]), [
      ["direct", "tls"],
      ["websocket", "ok"],
    ]);
    assert.match(attempts[0].error!, /certificate/i);
  } finally {
    mitm.stop();
    await srv.stop();
  }
});

Deno.test("the remembered transport is tried first; every path blocked is one error listing the signals", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice("remember");
    const attempts: TransportAttempt[] = [];
    const ws = new WebSocketPathTransport(`${srv.url}/connect`);
    const { client, transport } = await within(
      connectThroughTransports(
        connectOptions(srv, device),
        [new Socks5Transport(`socks5://127.0.0.1:${closedPort()}`), ws],
        { preferred: ws.label, onAttempt: (a) => attempts.push(a) },
      ),
      "the preferred transport",
    );
    assert.equal(transport, ws);
    assert.equal(attempts.length, 1);
    const otherDevice = newDevice("other");
    const other = await within(
      CommuCatClient.connect(connectOptions(srv, otherDevice)),
      "a direct client",
    );
    try {
      await within(befriend(srv, client, other), "the friendship");
      await within(client.join(3, [otherDevice.deviceId]), "the join");
      await within(client.send(3, "over the remembered path"), "the Ack");
      const got = await within(other.next(), "the message");
      assert.equal(got?.type, FrameType.Msg);
      assert.equal(fromUtf8(got!.payload), "over the remembered path");
    } finally {
      client.close();
      other.close();
      await Promise.all([client.finished, other.finished]);
    }
    // Every path blocked: one error listing each attempt's signal.
    const error = await connectThroughTransports(
      connectOptions(srv, newDevice("none")),
      [new Socks5Transport(`socks5://127.0.0.1:${closedPort()}`)],
      { attemptTimeoutMs: 1_500 },
    ).catch((e) => e);
    assert.ok(error instanceof NoTransportError);
    assert.equal(error.attempts.length, 1);
    assert.match(error.message, /^no transport reached the server: socks5 127\.0\.0\.1:\d+: /);
  } finally {
    await srv.stop();
  }
});

Deno.test("SDK option: CommuCatClient.connect with transports, and its REST route", async () => {
  const srv = await startTestServer();
  try {
    const attempts: TransportAttempt[] = [];
    const ws = new WebSocketPathTransport(`${srv.url}/connect`);
    const client = await within(
      CommuCatClient.connect(connectOptions(srv, newDevice("sdkopt"), {
        transports: [new Socks5Transport(`socks5://127.0.0.1:${closedPort()}`), ws],
        transportFallback: { attemptTimeoutMs: 5_000, onAttempt: (a) => attempts.push(a) },
      })),
      "connect with transports",
    );
    try {
      assert.equal(client.mode, "websocket");
      assert.deepEqual(attempts.map((a) => [a.kind, a.ok]), [["socks5", false], [
        "websocket",
        true,
      ]]);
      assert.equal(client.reachedVia.url, new URL(srv.url).origin);
      assert.ok(client.reachedVia.httpClient, "the route's HTTP client, for REST");
    } finally {
      client.close();
      await client.finished;
    }
  } finally {
    await srv.stop();
  }
});

Deno.test("transport specs: known kinds build, unknown and unsupported ones name the entry", () => {
  const built = transportsFromSpecs([
    { kind: "direct" },
    { kind: "websocket", url: "https://cdn.example.org/c7f3a9" },
    { kind: "socks5", proxy: "socks5h://127.0.0.1:9050" },
  ]);
  assert.deepEqual(built.map((t) => t.label), [
    "direct",
    "websocket https://cdn.example.org/c7f3a9",
    "socks5 127.0.0.1:9050",
  ]);
  assert.throws(
    () => transportsFromSpecs([{ kind: "direct" }, { kind: "reality" }]),
    (e: Error) =>
      e instanceof TransportSpecError &&
      /^transports\[1\]\.kind: "reality" is not supported/.test(e.message),
  );
  assert.throws(
    () => transportsFromSpecs([{ kind: "carrier-pigeon" }]),
    /transports\[0\]\.kind: unknown/,
  );
  assert.throws(
    () => transportsFromSpecs([{ kind: "websocket" }]),
    /transports\[0\]\.url: required/,
  );
  assert.throws(
    () => transportsFromSpecs([{ kind: "socks5", proxy: "http://x:1" }]),
    /transports\[0\]: SOCKS5 proxy must be/,
  );
});
