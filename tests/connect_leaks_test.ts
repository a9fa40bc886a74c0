/**
 * Issue 19 §2, transport leaks on `/connect`, against the real server process:
 * sockets left in CLOSE-WAIT after a rejected stream session.
 * Bounded and loopback only.
 */
import assert from "node:assert/strict";
import { spawnServer } from "./helpers/process.ts";
import { haveTcpTables, serverSockets, settlesTo, TcpState } from "./helpers/sockets.ts";

const encoder = new TextEncoder();
/** A frame whose type byte is no frame type: the server answers Error and ends the session. */
const BAD_HELLO = new Uint8Array([5, 0x7f, 0, 1, 0xff, 0xff]);

/**
 * Opens `/connect` over HTTP/1.1 with a chunked upstream that stays open,
 * sends a bad Hello, reads the refusal until the server ends the response
 * (or not at all), then drops the TCP connection.
 */
async function rejectedSession(port: number, pem: string, mode: string, read: boolean) {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    serverName: "localhost",
    port,
    caCerts: [pem],
    alpnProtocols: ["http/1.1"],
  } as Deno.ConnectTlsOptions);
  try {
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
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "stream modes: a rejected session leaves no socket in CLOSE-WAIT once the client is gone",
  ignore: !haveTcpTables(),
  async fn() {
    const server = await spawnServer();
    try {
      for (const mode of ["binary", "sse", "long-poll"]) {
        for (let i = 0; i < 30; i++) {
          await rejectedSession(server.port, server.certificatePem, mode, i % 2 === 0);
        }
      }
      const left = await settlesTo(() => serverSockets(server.port, TcpState.closeWait), 0);
      assert.equal(left, 0, `${left} of 90 server sockets stuck in CLOSE-WAIT`);
    } finally {
      await server.stop();
    }
  },
});
