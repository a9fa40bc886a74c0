import assert from "node:assert/strict";
import { silentLogger } from "../log/mod.ts";
import type { ByteStream } from "./listener.ts";
import { LoopbackEngine } from "./loopback_engine.ts";

const encoder = new TextEncoder();

/** A listener's decrypted stream, as a Shadowsocks or pluggable-transport listener would hand it. */
function streamPair(): {
  stream: ByteStream;
  send(text: string): Promise<void>;
  received(): Promise<string>;
} {
  const toServer = new TransformStream<Uint8Array, Uint8Array>();
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const writer = toServer.writable.getWriter();
  return {
    stream: {
      readable: toServer.readable,
      writable: toClient.writable,
      close: () => void writer.close().catch(() => undefined), // closed already: nothing to end
    },
    send: (text) => writer.write(encoder.encode(text)),
    received: () => new Response(toClient.readable).text(),
  };
}

Deno.test("a decrypted byte stream is served by the same app, with the listener's client address", async () => {
  const engine = new LoopbackEngine(
    (request, info) => {
      const addr = info.remoteAddr as Deno.NetAddr;
      return new Response(`${new URL(request.url).pathname} from ${addr.hostname}:${addr.port}`);
    },
    { log: silentLogger },
  );
  try {
    const pair = streamPair();
    const served = engine.serve({
      stream: pair.stream,
      remoteAddr: { transport: "tcp", hostname: "203.0.113.7", port: 4242 },
    });
    await pair.send("GET /who HTTP/1.1\r\nhost: example\r\nconnection: close\r\n\r\n");
    const text = await pair.received();
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.ok(text.endsWith("/who from 203.0.113.7:4242"), text);
    await served.firstRequest;
    await served.finished;
    assert.equal(engine.open, 0);
  } finally {
    await engine.shutdown();
  }
});

/** A loopback dial that fails (as with EMFILE) until `release()`, counting its attempts. */
function starvedDial() {
  let open = false;
  const state = {
    attempts: 0,
    /** Resolved at the next failed attempt (a new one after each). */
    failed: Promise.withResolvers<void>(),
    release: () => (open = true),
    dial: (port: number): Promise<Deno.TcpConn> => {
      state.attempts++;
      if (open) return Deno.connect({ hostname: "127.0.0.1", port });
      const failed = state.failed;
      state.failed = Promise.withResolvers<void>();
      failed.resolve();
      return Promise.reject(new Error("Too many open files (os error 24)"));
    },
  };
  return state;
}

Deno.test("a connection whose loopback dial fails is held and served once a dial succeeds, in order", async () => {
  const dial = starvedDial();
  const engine = new LoopbackEngine(
    (request) => new Response(new URL(request.url).pathname),
    { log: silentLogger, dial: dial.dial },
  );
  try {
    assert.equal(engine.whenReady(), null, "ready before anything is held");
    const first = streamPair();
    const second = streamPair();
    const remoteAddr = { transport: "tcp" as const, hostname: "203.0.113.7", port: 4242 };
    engine.serve({ stream: first.stream, remoteAddr });
    await dial.failed.promise;
    // Held: the acceptor is told to wait; a second connection queues behind the first.
    const ready = engine.whenReady();
    assert.ok(ready, "starved while a connection is held");
    engine.serve({ stream: second.stream, remoteAddr });
    await dial.failed.promise; // a retry (the back-off's timer) failed too: still held
    assert.equal(engine.held, 2);
    dial.release();
    await first.send("GET /first HTTP/1.1\r\nhost: example\r\nconnection: close\r\n\r\n");
    await second.send("GET /second HTTP/1.1\r\nhost: example\r\nconnection: close\r\n\r\n");
    assert.ok((await first.received()).endsWith("/first"));
    assert.ok((await second.received()).endsWith("/second"));
    await ready;
    assert.equal(engine.held, 0);
    assert.equal(engine.whenReady(), null);
  } finally {
    await engine.shutdown();
  }
});

Deno.test("a held connection ends with the engine; the acceptor's wait ends too", async () => {
  const dial = starvedDial();
  const engine = new LoopbackEngine(() => new Response("never"), {
    log: silentLogger,
    dial: dial.dial,
  });
  const pair = streamPair();
  const served = engine.serve({
    stream: pair.stream,
    remoteAddr: { transport: "tcp", hostname: "203.0.113.7", port: 4242 },
  });
  await dial.failed.promise;
  const ready = engine.whenReady();
  assert.ok(ready);
  engine.close();
  await ready;
  await served.finished;
  assert.equal(engine.open, 0);
  assert.equal(engine.whenReady(), null);
});
