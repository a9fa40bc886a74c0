/**
 * Shutdown cuts what outlives its grace period in both accept modes: a
 * `/connect` WebSocket whose client never answers the server's close frame
 * (nor reads) is ended at the grace end. The guarded mode aborts the socket;
 * the direct mode (`Deno.serve` on the port) aborts the server, whose graceful
 * shutdown alone would leave such a socket open.
 */
import assert from "node:assert/strict";
import { startTestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

const encoder = new TextEncoder();

/**
 * Starts a server in `accept` mode with a 300 ms grace period and opens a TLS
 * connection to it offering `alpn`.
 */
async function serveAndConnect(accept: "guarded" | "direct", alpn: string) {
  const srv = await startTestServer({ accept, shutdownGraceMs: 300 });
  const port = srv.server.addr.port;
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [srv.certificatePem],
    alpnProtocols: [alpn],
  });
  return { srv, port, conn };
}

/** Reads until the peer ends the connection (EOF or a reset): what it sent. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder("latin1").decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

/** Reads the response head of an HTTP/1.1 request. */
async function readHead(conn: Deno.Conn): Promise<string> {
  let head = "";
  const buf = new Uint8Array(1);
  while (!head.endsWith("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed after ${JSON.stringify(head)}`);
    head += String.fromCharCode(buf[0]);
  }
  return head;
}

for (const accept of ["guarded", "direct"] as const) {
  Deno.test(`shutdown ends a WebSocket that outlives the grace period (${accept} accept)`, async () => {
    const { srv, port, conn } = await serveAndConnect(accept, "http/1.1");
    try {
      await conn.write(encoder.encode(
        "GET /connect HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\n" +
          "connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "sec-websocket-version: 13\r\n\r\n",
      ));
      assert.match(await readHead(conn), /^HTTP\/1\.1 101 /);
      // From here the client is silent: the server's close frame gets no answer, so only a
      // hard close at the grace end ends the socket.
      await within(srv.stop(), "the server to stop");
      await within(readToEnd(conn), "the server to end the WebSocket's connection");
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.1", port }),
        "the port is closed after shutdown",
      );
    } finally {
      conn.close();
    }
  });
}

/** One HTTP/2 frame: 24-bit length, type, flags, stream id. */
function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const head = [payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff];
  return new Uint8Array([...head, type, flags, 0, 0, 0, stream, ...payload]);
}

/** An HPACK block of literal fields, never indexed or Huffman-coded (names and values < 127). */
function hpack(fields: [string, string][]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    out.push(0x00, name.length, ...encoder.encode(name), value.length, ...encoder.encode(value));
  }
  return new Uint8Array(out);
}

for (const accept of ["guarded", "direct"] as const) {
  Deno.test(`shutdown ends an HTTP/2 stream that cannot finish (${accept} accept)`, async () => {
    const { srv, conn } = await serveAndConnect(accept, "h2");
    try {
      // A stream window of 0: the server may send headers but no byte of the SSE body, so the
      // response (":ready", then the end at shutdown) can never finish; graceful shutdown alone
      // waits for it for ever.
      const INITIAL_WINDOW_SIZE = [0, 4, 0, 0, 0, 0];
      await conn.write(
        new Uint8Array([
          ...encoder.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
          ...h2Frame(4, 0, 0, new Uint8Array(INITIAL_WINDOW_SIZE)),
          ...h2Frame(
            1,
            0x5, // END_HEADERS | END_STREAM
            1,
            hpack([
              [":method", "GET"],
              [":scheme", "https"],
              [":authority", "localhost"],
              [":path", "/connect"],
              ["accept", "text/event-stream"],
            ]),
          ),
        ]),
      );
      // Wait for the response's HEADERS frame on stream 1 (the session is open).
      const seen: number[] = [];
      const buf = new Uint8Array(16 * 1024);
      for (let headers = false; !headers;) {
        const n = await within(conn.read(buf), "the response headers");
        if (n === null) throw new Error("closed before the response headers");
        seen.push(...buf.subarray(0, n));
        for (let off = 0; off + 9 <= seen.length;) {
          const length = (seen[off] << 16) | (seen[off + 1] << 8) | seen[off + 2];
          if (seen[off + 3] === 1 && seen[off + 8] === 1) headers = true;
          off += 9 + length;
        }
      }
      await conn.write(h2Frame(4, 0x1, 0, new Uint8Array(0))); // SETTINGS ACK
      await within(srv.stop(), "the server to stop");
      await within(readToEnd(conn), "the server to end the stream's connection");
    } finally {
      conn.close();
    }
  });
}
