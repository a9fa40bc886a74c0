/**
 * Issue 19 §2, transport leaks on `/connect`, against the real server process:
 * sockets left in CLOSE-WAIT after a rejected stream session, and WebSocket
 * clients stalled in the middle of a message held past the handshake timeout.
 * Both are seen from the client: a server socket in CLOSE-WAIT is one whose
 * server never sends its FIN after the client's. Bounded and loopback only.
 */
import assert from "node:assert/strict";
import { spawnServer } from "./helpers/process.ts";
import { RawConnection, within } from "./helpers/raw.ts";

const encoder = new TextEncoder();
/** A frame whose type byte is no frame type: the server answers Error and ends the session. */
const BAD_HELLO = new Uint8Array([5, 0x7f, 0, 1, 0xff, 0xff]);

/**
 * Opens `/connect` over HTTP/1.1 with a chunked upstream that stays open,
 * sends a bad Hello, reads the refusal until the server ends the response
 * (or not at all), then ends its side of the TCP connection (FIN), as a client
 * that goes away does. Returns the connection, to watch for the server's FIN.
 */
async function rejectedSession(
  port: number,
  pem: string,
  mode: string,
  read: boolean,
): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    serverName: "localhost",
    port,
    caCerts: [pem],
    alpnProtocols: ["http/1.1"],
  } as Deno.ConnectTlsOptions);
  await conn.write(encoder.encode(
    `POST /connect?mode=${mode} HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n` +
      `${BAD_HELLO.length.toString(16)}\r\n`,
  ));
  await conn.write(BAD_HELLO);
  await conn.write(encoder.encode("\r\n"));
  if (read) {
    const buf = new Uint8Array(4096);
    let seen = "";
    // The response is chunked: its last chunk marks the server's end of the session.
    while (!seen.endsWith("0\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      seen += new TextDecoder().decode(buf.subarray(0, n));
    }
  }
  await conn.closeWrite();
  return conn;
}

/** Reads until the server ends the TCP stream (what it sends is dropped). */
async function untilServerCloses(conn: Deno.TlsConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    while ((await conn.read(buf)) !== null) { /* the rest of a response, an Error, a close */ }
  } catch {
    // A reset is a close too.
  }
}

function closeAll(conns: Deno.TlsConn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

Deno.test("stream modes: a rejected session's socket is closed once the client is gone (no CLOSE-WAIT)", async () => {
  const server = await spawnServer();
  const conns: Deno.TlsConn[] = [];
  try {
    for (const mode of ["binary", "sse", "long-poll"]) {
      for (let i = 0; i < 30; i++) {
        conns.push(await rejectedSession(server.port, server.certificatePem, mode, i % 2 === 0));
      }
    }
    let closed = 0;
    // Before the fix part of these stayed open on the server (CLOSE-WAIT) for ever.
    await within(
      Promise.all(conns.map((conn) => untilServerCloses(conn).then(() => closed++))),
      "the server to close every rejected session's socket",
    ).catch((error) => {
      throw new Error(`${error.message}: ${conns.length - closed} of ${conns.length} left open`);
    });
  } finally {
    closeAll(conns);
    await server.stop();
  }
});

/** TLS to the server, upgraded to a WebSocket by hand (the test writes raw frames). */
async function rawWebSocket(port: number, pem: string): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    serverName: "localhost",
    port,
    caCerts: [pem],
    alpnProtocols: ["http/1.1"],
  } as Deno.ConnectTlsOptions);
  await conn.write(encoder.encode(
    "GET /connect HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
  ));
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
  assert.match(head, /^HTTP\/1\.1 101/);
  return conn;
}

Deno.test({
  name: "websocket: clients stalled mid-message before the handshake are dropped after the timeout",
  async fn() {
    const server = await spawnServer({ env: { COMMUCAT_HANDSHAKE_TIMEOUT_MS: "1000" } });
    const conns: Deno.TlsConn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const conn = await rawWebSocket(server.port, server.certificatePem);
        conns.push(conn);
        // A masked binary message announcing 8 MiB; 2 MiB of it arrive, then nothing.
        const header = new Uint8Array(14);
        header[0] = 0x82;
        header[1] = 0x80 | 127;
        new DataView(header.buffer).setBigUint64(2, BigInt(8 * 1024 * 1024));
        header.set([1, 2, 3, 4], 10);
        await conn.write(header);
        const chunk = new Uint8Array(256 * 1024).fill(7);
        for (let sent = 0; sent < 2 * 1024 * 1024; sent += chunk.length) await conn.write(chunk);
      }
      // Before the fix the server's closing handshake waited on these peers for ever.
      await within(
        Promise.all(conns.map(untilServerCloses)),
        "the server to drop the stalled WebSockets",
      );
    } finally {
      closeAll(conns);
      await server.stop();
    }
  },
});

Deno.test("websocket: a client that answers pings but never says Hello is still closed", async () => {
  const server = await spawnServer({ env: { COMMUCAT_HANDSHAKE_TIMEOUT_MS: "1000" } });
  try {
    const conn = await RawConnection.open(server, "websocket");
    const error = await conn.expectPlainError();
    assert.equal(error.error, "handshake");
    assert.deepEqual(await conn.expectClosed(), []);
    await conn.close();
  } finally {
    await server.stop();
  }
});
