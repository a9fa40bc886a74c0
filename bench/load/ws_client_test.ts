/**
 * Tests of the load tool's TCP_NODELAY WebSocket client: framing and
 * masking (ws_frames.ts) against hand-made frames, and the client against
 * Deno's own WebSocket server (plain and TLS) and a raw server that
 * fragments, pings and closes.
 */
import assert from "node:assert/strict";
import { generateSelfSignedCertificate } from "../../src/security/tls/selfsigned.ts";
import { acceptFor, connectNoDelayWebSocket, type NoDelayWebSocket } from "./ws_client.ts";
import {
  encodeClientFrame,
  FrameReader,
  MaskSource,
  Opcode,
  type ServerEvent,
  WebSocketProtocolError,
} from "./ws_frames.ts";

/** A server frame (unmasked) as a server writes it. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const n = payload.length;
  const head = n < 126
    ? [n]
    : n < 0x10000
    ? [126, n >>> 8, n & 0xff]
    : [127, 0, 0, 0, 0, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + head.length + n);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out.set(head, 1);
  out.set(payload, 1 + head.length);
  return out;
}

/** Unmasks a client frame: opcode, the key and the payload. */
function readClientFrame(
  frame: Uint8Array,
): { fin: boolean; opcode: number; key: Uint8Array; payload: Uint8Array; length: number } {
  assert.ok((frame[1] & 0x80) !== 0, "client frames are masked");
  let length = frame[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    length = (frame[2] << 8) | frame[3];
    at = 4;
  } else if (length === 127) {
    length = Number(new DataView(frame.buffer, frame.byteOffset + 2, 8).getBigUint64(0));
    at = 10;
  }
  const key = frame.slice(at, at + 4);
  const payload = frame.slice(at + 4, at + 4 + length).map((b, i) => b ^ key[i & 3]);
  return {
    fin: (frame[0] & 0x80) !== 0,
    opcode: frame[0] & 0x0f,
    key,
    payload,
    length: at + 4 + length,
  };
}

const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

Deno.test("client frames are masked with a fresh key and carry all three length forms", () => {
  const masks = new MaskSource();
  for (const n of [0, 1, 5, 125, 126, 65535, 65536, 200_000]) {
    const payload = bytes(n);
    const frame = encodeClientFrame(Opcode.Binary, payload, masks);
    const read = readClientFrame(frame);
    assert.deepEqual(read.length, frame.length);
    assert.ok(read.fin);
    assert.deepEqual(read.opcode, Opcode.Binary);
    assert.deepEqual(read.payload, payload);
    if (n >= 16) {
      assert.notDeepEqual(frame.slice(frame.length - n), payload, "the payload is masked");
    }
  }
  const a = readClientFrame(encodeClientFrame(Opcode.Binary, bytes(8), masks)).key;
  const b = readClientFrame(encodeClientFrame(Opcode.Binary, bytes(8), masks)).key;
  assert.notDeepEqual(a, b);
});

Deno.test("the reader joins fragments, reports control frames between them, in any split", () => {
  const stream = [
    serverFrame(Opcode.Binary, bytes(3, 1), false),
    serverFrame(Opcode.Ping, bytes(4, 9)),
    serverFrame(Opcode.Continuation, bytes(70_000, 2), false),
    serverFrame(Opcode.Continuation, bytes(5, 3)),
    serverFrame(Opcode.Binary, bytes(300, 4)),
    serverFrame(Opcode.Close, Uint8Array.of(0x03, 0xe8, 0x62, 0x79, 0x65)),
  ];
  const all = new Uint8Array(stream.reduce((n, f) => n + f.length, 0));
  stream.reduce((at, f) => (all.set(f, at), at + f.length), 0);
  const whole = new Uint8Array([...bytes(3, 1), ...bytes(70_000, 2), ...bytes(5, 3)]);
  for (const step of [1, 7, 1000, all.length]) {
    const reader = new FrameReader();
    const events: ServerEvent[] = [];
    for (let at = 0; at < all.length; at += step) {
      events.push(...reader.push(all.slice(at, at + step)));
    }
    assert.deepEqual(events, [
      { kind: "ping", data: bytes(4, 9) },
      { kind: "message", text: false, data: whole },
      { kind: "message", text: false, data: bytes(300, 4) },
      { kind: "close", code: 1000, reason: "bye" },
    ]);
  }
});

Deno.test("the reader fails what a client must not accept", () => {
  const bad = [
    Uint8Array.of(0x82, 0x81, 1, 2, 3, 4, 0), // masked by the server
    Uint8Array.of(0xc2, 0x00), // RSV1 without an extension
    Uint8Array.of(0x80, 0x00), // continuation with no message
    Uint8Array.of(0x09, 0x00), // fragmented ping
    serverFrame(Opcode.Ping, bytes(126)), // control over 125 bytes
    Uint8Array.of(0x83, 0x00), // reserved opcode
    new Uint8Array([
      ...serverFrame(Opcode.Binary, bytes(2), false),
      ...serverFrame(Opcode.Binary, bytes(2)),
    ]),
  ];
  for (const frame of bad) {
    assert.throws(() => new FrameReader().push(frame), WebSocketProtocolError);
  }
  const small = new FrameReader(10);
  assert.throws(() => small.push(serverFrame(Opcode.Binary, bytes(11))), WebSocketProtocolError);
});

Deno.test("the accept key is RFC 6455's example", async () => {
  assert.deepEqual(await acceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

/** Deno.serve echoing each binary message; `tls` with a self-signed localhost certificate. */
async function echoServer(tls: boolean) {
  const cert = tls
    ? await generateSelfSignedCertificate({
      commonName: "localhost",
      dnsNames: ["localhost"],
      ipAddresses: [],
    })
    : null;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
  }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => {
      const data = new Uint8Array(e.data as ArrayBuffer);
      if (data.length === 1 && data[0] === 0xff) socket.close(4001, "asked");
      else socket.send(data);
    };
    return response;
  });
  const url = `${tls ? "wss://localhost" : "ws://127.0.0.1"}:${server.addr.port}/x?y=1`;
  return { url, caCerts: cert ? [cert.certPem] : undefined, stop: () => server.shutdown() };
}

function nextMessage(ws: NoDelayWebSocket): Promise<Uint8Array> {
  return new Promise((resolve) => (ws.onmessage = resolve));
}

for (const tls of [false, true]) {
  Deno.test(`echo through Deno's WebSocket server (${tls ? "wss" : "ws"}): small, large, close`, async () => {
    const server = await echoServer(tls);
    const ws = await connectNoDelayWebSocket(server.url, { caCerts: server.caCerts });
    for (const n of [0, 10, 126, 70_000, 1_000_000]) {
      const got = nextMessage(ws);
      ws.send(bytes(n, n));
      assert.deepEqual(await got, bytes(n, n));
    }
    // Sends queued while a write is in flight arrive in order.
    const seen: number[] = [];
    const all = new Promise<void>((resolve) => {
      ws.onmessage = (d) => {
        seen.push(d[0]);
        if (seen.length === 50) resolve();
      };
    });
    for (let i = 0; i < 50; i++) ws.send(Uint8Array.of(i, 0));
    await all;
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i));
    ws.send(Uint8Array.of(0xff)); // the server closes with 4001
    assert.deepEqual(await ws.closed, { code: 4001, reason: "asked" });
    assert.ok(!ws.open);
    await server.stop();
  });
}

Deno.test("a client close gets the server's close back", async () => {
  const server = await echoServer(false);
  const ws = await connectNoDelayWebSocket(server.url);
  ws.close();
  assert.deepEqual((await ws.closed).code, 1000);
  ws.send(bytes(3)); // dropped, no throw
  await server.stop();
});

Deno.test("a raw server's ping is answered, its fragments joined, its close echoed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    const n = (await conn.read(buffer))!;
    const head = new TextDecoder().decode(buffer.subarray(0, n));
    const key = /sec-websocket-key: (\S+)/i.exec(head)![1];
    const reply =
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Accept: ${await acceptFor(key)}\r\n\r\n`;
    // The head and the first frames in one write: the client must keep what follows the head.
    await conn.write(
      new Uint8Array([
        ...new TextEncoder().encode(reply),
        ...serverFrame(Opcode.Binary, bytes(2, 5), false),
        ...serverFrame(Opcode.Ping, Uint8Array.of(7, 7)),
        ...serverFrame(Opcode.Continuation, bytes(3, 6)),
      ]),
    );
    const pong = new Uint8Array(64);
    const m = (await conn.read(pong))!;
    const frame = readClientFrame(pong.subarray(0, m));
    await conn.write(serverFrame(Opcode.Close, Uint8Array.of(0x0f, 0xa0)));
    const echo = new Uint8Array(64);
    const e = (await conn.read(echo))!;
    conn.close();
    return { pong: frame, echo: readClientFrame(echo.subarray(0, e)) };
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const ws = await connectNoDelayWebSocket(`ws://127.0.0.1:${port}/`);
  const message = await nextMessage(ws);
  assert.deepEqual(message, new Uint8Array([...bytes(2, 5), ...bytes(3, 6)]));
  const { pong, echo } = await served;
  assert.deepEqual([pong.opcode, [...pong.payload]], [Opcode.Pong, [7, 7]]);
  assert.deepEqual([echo.opcode, [...echo.payload]], [Opcode.Close, [0x0f, 0xa0]]);
  assert.deepEqual((await ws.closed).code, 4000);
  listener.close();
});

Deno.test("a refused upgrade rejects", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("no", { status: 403 }),
  );
  await assert.rejects(
    () => connectNoDelayWebSocket(`ws://127.0.0.1:${server.addr.port}/`),
    /upgrade refused/,
  );
  await server.shutdown();
});
