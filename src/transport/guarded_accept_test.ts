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
