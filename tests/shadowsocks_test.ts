/**
 * The Shadowsocks AEAD listener (`transport.shadowsocks.*`) against the real
 * third-party client, shadowsocks-libev's `ss-local`: a TLS request through
 * its SOCKS5 port reaches the server, the SDK client completes a /connect
 * handshake and chats through it (Deno's fetch speaks SOCKS5); a wrong password, garbage and a wrong
 * key get silence (no byte, then a close), and the listener keeps serving.
 */
import assert from "node:assert/strict";
import { ChunkSealer, shadowsocksKey } from "../src/crypto/shadowsocks/mod.ts";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";
import { startSsLocal as startSsLocalOn } from "./helpers/shadowsocks_libev.ts";

const ssLocal = await new Deno.Command("sh", {
  args: ["-c", "command -v ss-local"],
  stdout: "null",
}).output().then((o) => o.success, () => false);
if (!ssLocal) console.warn("SKIPPED: ss-local (shadowsocks-libev) missing: interop tests skip");

const PASSWORD = "test-shadowsocks-password";
const encoder = new TextEncoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`closed after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

/** Reads until the peer closes: everything it sent. */
async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return new Uint8Array(chunks);
    chunks.push(...buf.subarray(0, n));
  }
}

/** Runs ss-local against the server's Shadowsocks port; returns its SOCKS5 port and a stopper. */
function startSsLocal(server: TestServer, method: string, password: string) {
  return startSsLocalOn(server.server.shadowsocksAddr!.port, method, password);
}

/** SOCKS5 CONNECT to localhost:<port> through ss-local, then TLS and one HTTP/1.1 request. */
async function getThroughSocks(
  socksPort: number,
  targetPort: number,
  pem: string,
  path: string,
): Promise<string> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: socksPort });
  await tcp.write(new Uint8Array([5, 1, 0]));
  assert.deepEqual([...await readExactly(tcp, 2)], [5, 0]);
  const host = encoder.encode("localhost");
  await tcp.write(
    new Uint8Array([5, 1, 0, 3, host.length, ...host, targetPort >> 8, targetPort & 0xff]),
  );
  const reply = await readExactly(tcp, 10);
  assert.equal(reply[1], 0, "SOCKS5 CONNECT refused");
  const tls = await Deno.startTls(tcp, { hostname: "localhost", caCerts: [pem] });
  try {
    await tls.write(encoder.encode(
      `GET ${path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`,
    ));
    return new TextDecoder().decode(await readToEnd(tls));
  } finally {
    try {
      tls.close();
    } catch { /* closed by the peer */ }
  }
}

async function withServer(
  method: "chacha20-ietf-poly1305" | "aes-256-gcm",
  fn: (srv: TestServer) => Promise<void>,
): Promise<void> {
  const srv = await startTestServer({
    shadowsocks: { hostname: "127.0.0.1", port: 0, method, password: PASSWORD },
    connections: { firstRequestTimeoutMs: 1_500, maxTotal: 16_384, maxPerIp: 100_000 },
  });
  try {
    await fn(srv);
  } finally {
    await srv.stop();
  }
}

for (const method of ["chacha20-ietf-poly1305", "aes-256-gcm"] as const) {
  Deno.test({
    name: `ss-local (${method}) → Shadowsocks listener → TLS → /healthz${
      ssLocal ? "" : " (SKIPPED: ss-local missing)"
    }`,
    ignore: !ssLocal,
    async fn() {
      await withServer(method, async (srv) => {
        const local = await startSsLocal(srv, method, PASSWORD);
        try {
          const text = await getThroughSocks(
            local.port,
            srv.server.addr.port,
            srv.certificatePem,
            "/healthz",
          );
          assert.match(text, /^HTTP\/1\.1 200 OK/);
          assert.match(text, /"status":\s*"healthy"/);
        } finally {
          await local.stop();
        }
      });
    },
  });
}

Deno.test({
  name: `the SDK client completes /connect through ss-local and chats with a direct client${
    ssLocal ? "" : " (SKIPPED: ss-local missing)"
  }`,
  ignore: !ssLocal,
  async fn() {
    await withServer("chacha20-ietf-poly1305", async (srv) => {
      const local = await startSsLocal(srv, "chacha20-ietf-poly1305", PASSWORD);
      // Deno's fetch speaks SOCKS5 to ss-local; the client's TLS runs inside the tunnel.
      const viaSocks = Deno.createHttpClient({
        caCerts: [srv.certificatePem],
        proxy: { url: `socks5://127.0.0.1:${local.port}` },
      });
      // The proxy setting is honoured (a closed SOCKS port fails), so the session below is tunneled.
      const deadProxy = Deno.createHttpClient({
        caCerts: [srv.certificatePem],
        proxy: { url: `socks5://127.0.0.1:${freePort()}` },
      });
      await assert.rejects(fetch(`${srv.url}/healthz`, { client: deadProxy }));
      deadProxy.close();
      const tunneledDevice = newDevice("ss");
      const directDevice = newDevice("direct");
      const tunneled = await within(
        CommuCatClient.connect(connectOptions(srv, tunneledDevice, { httpClient: viaSocks })),
        "the handshake through ss-local",
      );
      const direct = await within(
        CommuCatClient.connect(connectOptions(srv, directDevice)),
        "direct",
      );
      try {
        await within(befriend(srv, tunneled, direct), "the friendship");
        await within(tunneled.join(7, [directDevice.deviceId]), "the join");
        const pass = async (from: CommuCatClient, to: CommuCatClient, text: string) => {
          await within(from.send(7, text), `the Ack for ${text}`);
          const got = await within(to.next(), `${text} to arrive`);
          assert.ok(got);
          assert.equal(got.type, FrameType.Msg);
          assert.equal(fromUtf8(got.payload), text);
        };
        await pass(tunneled, direct, "through the tunnel");
        await pass(direct, tunneled, "back through the tunnel");
      } finally {
        tunneled.close();
        direct.close();
        await within(Promise.all([tunneled.finished, direct.finished]), "the clients to close");
        viaSocks.close();
        await local.stop();
      }
    });
  },
});

Deno.test({
  name: `a wrong password gets silence and the listener keeps serving others${
    ssLocal ? "" : " (SKIPPED: ss-local missing)"
  }`,
  ignore: !ssLocal,
  async fn() {
    await withServer("chacha20-ietf-poly1305", async (srv) => {
      const wrong = await startSsLocal(srv, "chacha20-ietf-poly1305", "not-the-password");
      const right = await startSsLocal(srv, "chacha20-ietf-poly1305", PASSWORD);
      try {
        // ss-local relays nothing back: the TLS handshake ends without a server byte.
        await assert.rejects(
          getThroughSocks(wrong.port, srv.server.addr.port, srv.certificatePem, "/healthz"),
        );
        const text = await getThroughSocks(
          right.port,
          srv.server.addr.port,
          srv.certificatePem,
          "/healthz",
        );
        assert.match(text, /^HTTP\/1\.1 200 OK/);
      } finally {
        await wrong.stop();
        await right.stop();
      }
    });
  },
});

Deno.test("probes get no byte back: garbage, a wrong key, a replayed connection start", async () => {
  await withServer("aes-256-gcm", async (srv) => {
    const port = srv.server.shadowsocksAddr!.port;
    const probe = async (bytes: Uint8Array) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(bytes);
      // The server reads until its first-request timeout, then closes: nothing was sent.
      const got = await readToEnd(conn);
      conn.close();
      return got.length;
    };
    assert.equal(await probe(crypto.getRandomValues(new Uint8Array(600))), 0);
    const wrongKey = new ChunkSealer(shadowsocksKey("aes-256-gcm", "guessed-password"));
    const target = new Uint8Array([1, 127, 0, 0, 1, 0x01, 0xbb]);
    assert.equal(
      await probe(
        new Uint8Array([...wrongKey.salt, ...wrongKey.seal(target).flatMap((c) => [...c])]),
      ),
      0,
    );
    // A valid start with an address type that does not exist: silence too.
    const right = new ChunkSealer(shadowsocksKey("aes-256-gcm", PASSWORD));
    const sealedBytes = (data: Uint8Array) => right.seal(data).flatMap((c) => [...c]);
    assert.equal(
      await probe(new Uint8Array([...right.salt, ...sealedBytes(new Uint8Array([9, 1, 2, 3]))])),
      0,
    );
    // A valid start followed by non-TLS bytes: the tunnel opens and the TLS server inside
    // answers (an alert, sealed). The same bytes again — a replay — get nothing.
    const replayed = new ChunkSealer(shadowsocksKey("aes-256-gcm", PASSWORD));
    const start = new Uint8Array([
      ...replayed.salt,
      ...replayed.seal(target).flatMap((c) => [...c]),
      ...replayed.seal(encoder.encode("GET / HTTP/1.1\r\n\r\n")).flatMap((c) => [...c]),
    ]);
    assert.ok(await probe(start) > 0, "the first connection is served");
    assert.equal(await probe(start), 0, "the replay is not");
  });
});
