import assert from "node:assert/strict";
import { problem } from "../http/mod.ts";
import { PathProber, type PathProberOptions, ProbeBook } from "./mod.ts";

function world(options: Partial<PathProberOptions> = {}) {
  const book = new ProbeBook({ maxPaths: 2 });
  const prober = new PathProber({
    authenticate: (request) =>
      Promise.resolve(
        request.headers.get("authorization") === "Bearer good"
          ? { deviceId: "alice-1", userId: "alice" }
          : problem(401, "session not found or expired"),
      ),
    book,
    // Generous: an answered echo must never be late, even on a loaded machine.
    count: 4,
    timeoutMs: 2000,
    ...options,
  });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => prober.handle(request),
  );
  return {
    book,
    url: (label: string) => `ws://127.0.0.1:${server.addr.port}/p2p/probe?path=${label}`,
    http: `http://127.0.0.1:${server.addr.port}/p2p/probe`,
    close: async () => {
      prober.shutdown();
      await server.shutdown();
    },
  };
}

/** Runs one probe as a client that answers probe i when `answer(i)`, after `delayMs`. */
function probe(
  url: string,
  answer: (i: number) => boolean,
  delayMs = 0,
): Promise<Record<string, unknown>> {
  const ws = new WebSocket(
    url,
    { headers: { authorization: "Bearer good" } } as unknown as string[],
  );
  let i = 0;
  let result: Record<string, unknown> = {};
  return new Promise((resolve, reject) => {
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data));
      if (m.done) {
        result = m;
        return;
      }
      if (answer(i++)) setTimeout(() => ws.send(String(e.data)), delayMs);
    };
    ws.onclose = (e) => (e.code === 1000 ? resolve(result) : reject(new Error(`closed ${e.code}`)));
    ws.onerror = () => {};
  });
}

Deno.test("p2p probe: loss and RTT are what the server timed on the path", async () => {
  const w = world();
  try {
    const clean = await probe(w.url("tls-ws"), () => true);
    assert.equal(clean.packet_loss_percent, 0);
    assert.equal(clean.samples, 4);
    assert.equal(typeof clean.rtt_ms, "number");
    // Every other echo withheld: exactly half lost.
    const lossy = await probe(w.url("lossy"), (i) => i % 2 === 0);
    assert.equal(lossy.packet_loss_percent, 50);
    // Echoes held back 30 ms: no round trip can be shorter (a lower bound, never flaky).
    const slow = await probe(w.url("slow"), () => true, 30);
    assert.ok((slow.rtt_ms as number) >= 30, `rtt ${slow.rtt_ms}`);
    // The book keeps 2 paths per device: the oldest ("tls-ws") went; assist reads the rest.
    const paths = w.book.paths("alice-1");
    assert.deepEqual(paths.map((p) => p.id), ["lossy", "slow"]);
    assert.equal(paths[0].quality!.lossRatio, 0.5);
    assert.deepEqual(w.book.paths("bob-1"), []);
  } finally {
    await w.close();
  }
});

Deno.test("p2p probe: forged echoes count for nothing; auth, label and rate limit refusals", async () => {
  const w = world({ runsPerMinute: 2, count: 3, timeoutMs: 100 });
  try {
    // A client that answers with a guessed nonce loses every probe.
    const ws = new WebSocket(w.url("forger"), {
      headers: { authorization: "Bearer good" },
    } as unknown as string[]);
    const done = await new Promise<Record<string, unknown>>((resolve) => {
      ws.onmessage = (e) => {
        const m = JSON.parse(String(e.data));
        if (m.done) resolve(m);
        else ws.send(JSON.stringify({ probe: (m.probe + 1) >>> 0 }));
      };
    });
    assert.equal(done.packet_loss_percent, 100);
    assert.equal(done.rtt_ms, null);
    await new Promise((r) => (ws.onclose = r));
    const headers = { upgrade: "websocket", connection: "Upgrade", authorization: "Bearer bad" };
    const unauth = await fetch(w.http, { headers });
    assert.equal(unauth.status, 401);
    await unauth.body?.cancel();
    const label = await fetch(`${w.http}?path=${"x".repeat(40)}`, {
      headers: { ...headers, authorization: "Bearer good" },
    });
    assert.equal(label.status, 400);
    await label.body?.cancel();
    await probe(w.url("second"), () => true);
    const limited = await fetch(w.http, { headers: { ...headers, authorization: "Bearer good" } });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    await limited.body?.cancel();
  } finally {
    await w.close();
  }
});
