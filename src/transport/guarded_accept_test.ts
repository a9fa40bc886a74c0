import assert from "node:assert/strict";
import { createLogger } from "../server/mod.ts";
import { firstRequestGranularityMs, GuardedAcceptor } from "./guarded_accept.ts";
import type { AdmittedSocket } from "./guarded_accept.ts";
import type { LoopbackEngine } from "./loopback_engine.ts";
import { UNCOUNTED_SLOT } from "./listener.ts";

const quiet = createLogger({ level: "error", format: "json", write: () => {} });

Deno.test("first-request deadlines: 5% of the timeout, between 1 and 250 ms", () => {
  assert.equal(firstRequestGranularityMs(10_000), 250);
  assert.equal(firstRequestGranularityMs(2_000), 100);
  assert.equal(firstRequestGranularityMs(300), 15);
  assert.equal(firstRequestGranularityMs(10), 1);
});

Deno.test("first-request deadlines: a silent socket is closed, one that asked in time is not", async () => {
  const drops: string[] = [];
  const acceptor = new GuardedAcceptor({
    configKey: "server.bind",
    hostname: "127.0.0.1",
    port: 0,
    firstRequestTimeoutMs: 200,
    admit: () => UNCOUNTED_SLOT,
    log: quiet,
    onDrop: (reason) => drops.push(reason),
  });
  const admitted: AdmittedSocket[] = [];
  // The handler holds each socket and calls firstRequest() on the second one only.
  acceptor.start({ handle: () => new Response(null) }, "test", (socket, _: LoopbackEngine) => {
    admitted.push(socket);
    if (admitted.length === 2) socket.firstRequest();
    socket.onAbort(() => {
      try {
        socket.conn.close();
      } catch { /* closed */ }
      socket.ended();
    });
  });
  const port = acceptor.addr.port;
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  while (admitted.length < 1) await new Promise((r) => setTimeout(r, 5));
  const asked = await Deno.connect({ hostname: "127.0.0.1", port });
  while (admitted.length < 2) await new Promise((r) => setTimeout(r, 5));
  // The silent one is closed by its deadline: its read ends.
  const n = await silent.read(new Uint8Array(16)).catch(() => null);
  assert.equal(n, null);
  assert.deepEqual(drops, ["timeout"]);
  // The other outlives the deadline by more than a slot, still open.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(drops, ["timeout"]);
  asked.close();
  silent.close();
  acceptor.close();
  admitted[1].ended();
});

Deno.test("the engine short of descriptors: accepting waits, the held socket is served, then the next", async () => {
  // A loopback dial that fails (as with EMFILE) until released.
  let dialsOpen = false;
  let failures = 0;
  let nextFailure = Promise.withResolvers<void>();
  const dial = (port: number): Promise<Deno.TcpConn> => {
    if (dialsOpen) return Deno.connect({ hostname: "127.0.0.1", port });
    failures++;
    const failed = nextFailure;
    nextFailure = Promise.withResolvers<void>();
    failed.resolve();
    return Promise.reject(new Error("Too many open files (os error 24)"));
  };
  let admits = 0;
  const acceptor = new GuardedAcceptor({
    configKey: "server.h2c_bind",
    hostname: "127.0.0.1",
    port: 0,
    firstRequestTimeoutMs: 60_000,
    admit: () => (admits++, UNCOUNTED_SLOT),
    log: quiet,
    dial,
  });
  acceptor.start(
    { handle: (request) => new Response(new URL(request.url).pathname) },
    "test",
    (socket, engine) => {
      const served = engine.serve({
        stream: socket.conn,
        remoteAddr: socket.remoteAddr,
        events: socket,
      });
      socket.onAbort(served.close);
    },
  );
  const port = acceptor.addr.port;
  const request = (path: string) =>
    new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  const readAll = async (conn: Deno.Conn) =>
    new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
  try {
    const first = await Deno.connect({ hostname: "127.0.0.1", port });
    await first.write(request("/first"));
    await nextFailure.promise; // its dial failed: held
    // The accept already waiting when the first was held takes the next client: held behind it.
    const second = await Deno.connect({ hostname: "127.0.0.1", port });
    await second.write(request("/second"));
    // A third connects (the kernel's backlog completes it) while they are held: it is not
    // accepted, through two more failed tries of the held ones' dials.
    const third = await Deno.connect({ hostname: "127.0.0.1", port });
    await third.write(request("/third"));
    const seen = failures;
    while (failures < seen + 2) await nextFailure.promise;
    assert.equal(admits, 2, "no socket accepted while the engine holds some");
    dialsOpen = true;
    // None is dropped: all are answered, the third accepted once the held ones were served.
    assert.match(await readAll(first), /\/first$/);
    assert.match(await readAll(second), /\/second$/);
    assert.match(await readAll(third), /\/third$/);
    assert.equal(admits, 3);
  } finally {
    acceptor.close();
  }
});
