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
