/**
 * The SDK's own Shadowsocks client (no ss-local): through the real
 * shadowsocks-libev `ss-server` to a TCP target (the server's TLS port) and
 * through our own Shadowsocks listener, a /connect handshake completes and
 * the device chats with a directly connected one. A wrong password gets
 * silence from ss-server, which keeps serving the right one.
 */
import assert from "node:assert/strict";
import {
  type ClientTransport,
  CommuCatClient,
  connectThroughTransports,
  NoTransportError,
  type TransportAttempt,
} from "../src/client/mod.ts";
import { ShadowsocksTransport, Socks5Transport } from "../src/client/transports/mod.ts";
import { ChunkSealer, shadowsocksKey } from "../src/crypto/shadowsocks/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { encodeSocksAddress, FrameType } from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { closedPort } from "./helpers/censor.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";
import { hasProgram, startSsLocal, startSsServer } from "./helpers/shadowsocks_libev.ts";

const ssServer = await hasProgram("ss-server");
const ssLocal = await hasProgram("ss-local");
if (!ssServer) console.warn("SKIPPED: ss-server (shadowsocks-libev) missing: interop tests skip");
const skipped = ssServer ? "" : " (SKIPPED: ss-server missing)";

const PASSWORD = "client-side-shadowsocks-password";

/** Connects through `transport`, befriends a direct client and passes a message each way. */
async function chatThrough(srv: TestServer, transport: ClientTransport): Promise<void> {
  const tunneledDevice = newDevice("ssc");
  const directDevice = newDevice("direct");
  const attempts: TransportAttempt[] = [];
  const { client: tunneled, route } = await within(
    connectThroughTransports(connectOptions(srv, tunneledDevice), [transport], {
      onAttempt: (a) => attempts.push(a),
    }),
    `the handshake through ${transport.label}`,
  );
  assert.deepEqual(attempts.map((a) => [a.kind, a.ok]), [[transport.kind, true]]);
  assert.ok(route.httpClient, "the route carries its own (proxied) HTTP client");
  const direct = await within(CommuCatClient.connect(connectOptions(srv, directDevice)), "direct");
  try {
    await within(befriend(srv, tunneled, direct), "the friendship");
    await within(tunneled.join(9, [directDevice.deviceId]), "the join");
    const pass = async (from: CommuCatClient, to: CommuCatClient, text: string) => {
      await within(from.send(9, text), `the Ack for ${text}`);
      const got = await within(to.next(), `${text} to arrive`);
      assert.equal(got?.type, FrameType.Msg);
      assert.equal(fromUtf8(got!.payload), text);
    };
    await pass(tunneled, direct, "out through shadowsocks");
    await pass(direct, tunneled, "back through shadowsocks");
  } finally {
    tunneled.close();
    direct.close();
    await within(Promise.all([tunneled.finished, direct.finished]), "the clients to close");
  }
}

for (const method of ["chacha20-ietf-poly1305", "aes-256-gcm"] as const) {
  Deno.test({
    name: `SDK Shadowsocks client (${method}) → ss-server → the server's TLS port: chat${skipped}`,
    ignore: !ssServer,
    async fn() {
      const srv = await startTestServer();
      const ss = await startSsServer(method, PASSWORD);
      try {
        await chatThrough(
          srv,
          new ShadowsocksTransport({ server: `127.0.0.1:${ss.port}`, method, password: PASSWORD }),
        );
      } finally {
        await ss.stop();
        await srv.stop();
      }
    },
  });

  Deno.test(`SDK Shadowsocks client (${method}) → our own listener: chat`, async () => {
    const srv = await startTestServer({
      shadowsocks: { hostname: "127.0.0.1", port: 0, method, password: PASSWORD },
    });
    try {
      await chatThrough(
        srv,
        new ShadowsocksTransport({
          server: `127.0.0.1:${srv.server.shadowsocksAddr!.port}`,
          method,
          password: PASSWORD,
        }),
      );
    } finally {
      await srv.stop();
    }
  });
}

Deno.test({
  name: `a wrong password gets silence from ss-server, which keeps serving the right one${skipped}`,
  ignore: !ssServer,
  async fn() {
    const srv = await startTestServer();
    const ss = await startSsServer("aes-256-gcm", PASSWORD);
    try {
      // A raw probe with a guessed key.
      const probe = await Deno.connect({ hostname: "127.0.0.1", port: ss.port });
      const sealer = new ChunkSealer(shadowsocksKey("aes-256-gcm", "guessed-password"));
      const start = [
        sealer.salt,
        ...sealer.seal(encodeSocksAddress("127.0.0.1", srv.server.addr.port)),
      ];
      for (const part of start) await probe.write(part);
      // ss-server holds a connection that failed to authenticate open, silent (its
      // probe resistance): the read stays pending while everything below happens.
      let answered: number | null | "pending" = "pending";
      const read = probe.read(new Uint8Array(4096)).then((n) => (answered = n), () => null);
      // The SDK with the wrong password: the attempt fails (nothing comes back).
      const wrong = new ShadowsocksTransport({
        server: `127.0.0.1:${ss.port}`,
        method: "aes-256-gcm",
        password: "not-the-password",
      });
      const error = await connectThroughTransports(
        connectOptions(srv, newDevice("wrong")),
        [wrong],
        { attemptTimeoutMs: 1_500 },
      ).catch((e) => e);
      assert.ok(error instanceof NoTransportError, String(error));
      assert.notEqual(error.attempts[0].signal, undefined);
      // Meanwhile the right password is served.
      await chatThrough(
        srv,
        new ShadowsocksTransport({
          server: `127.0.0.1:${ss.port}`,
          method: "aes-256-gcm",
          password: PASSWORD,
        }),
      );
      assert.equal(answered, "pending", "no byte to a wrong key");
      probe.close();
      await read;
    } finally {
      await ss.stop();
      await srv.stop();
    }
  },
});

Deno.test("a Shadowsocks server that refuses the connection is a 'refused' signal", async () => {
  const srv = await startTestServer();
  try {
    const error = await connectThroughTransports(
      connectOptions(srv, newDevice("nobody")),
      [
        new ShadowsocksTransport({
          server: `127.0.0.1:${closedPort()}`,
          method: "chacha20-ietf-poly1305",
          password: PASSWORD,
        }),
      ],
      { attemptTimeoutMs: 3_000 },
    ).catch((e) => e);
    assert.ok(error instanceof NoTransportError, String(error));
    assert.equal(error.attempts[0].signal, "refused");
  } finally {
    await srv.stop();
  }
});

Deno.test({
  name: `through any SOCKS5 proxy: ss-local's, into our Shadowsocks listener: chat${
    ssLocal ? "" : " (SKIPPED: ss-local missing)"
  }`,
  ignore: !ssLocal,
  async fn() {
    const srv = await startTestServer({
      shadowsocks: {
        hostname: "127.0.0.1",
        port: 0,
        method: "chacha20-ietf-poly1305",
        password: PASSWORD,
      },
    });
    const local = await startSsLocal(
      srv.server.shadowsocksAddr!.port,
      "chacha20-ietf-poly1305",
      PASSWORD,
    );
    try {
      await chatThrough(srv, new Socks5Transport(`socks5h://127.0.0.1:${local.port}`));
    } finally {
      await local.stop();
      await srv.stop();
    }
  },
});
