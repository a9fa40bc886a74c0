/**
 * Rate limits and the handshake cap on the real server over HTTPS: per
 * client IP (not per socket), 429 problem+json with Retry-After, and
 * handshakes past the cap refused at once.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { RawConnection, within } from "./helpers/raw.ts";
import { httpRefusals, scrapeMetrics } from "./helpers/metrics.ts";
import { fdUsage, havePrlimit, setFdLimit, spawnServer } from "./helpers/process.ts";
import { until } from "./helpers/wait.ts";

/** Bound on the waits of the spawned-process test (a loaded machine is slow, never wrong). */
const LOADED_MS = 60_000;

const SLOW = { windowMs: 60_000, penaltyMs: 60_000 };
const OPEN = { burst: 1_000_000, windowMs: 1_000, penaltyMs: 0 };

async function get(srv: TestServer, path: string, init: RequestInit = {}) {
  const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    const response = await fetch(`${srv.url}${path}`, { ...init, client });
    const body = await response.text();
    return { status: response.status, headers: response.headers, body };
  } finally {
    client.close();
  }
}

Deno.test("http limit: burst then 429 problem+json with Retry-After, for every socket of the IP", async () => {
  const srv = await startTestServer({
    rateLimits: { http: { burst: 3, ...SLOW }, connect: OPEN, pairing: OPEN },
  });
  try {
    // Each get() opens a new TLS connection (new source port): the key is the IP.
    for (let i = 0; i < 3; i++) assert.equal((await get(srv, "/healthz")).status, 200);
    const limited = await get(srv, "/healthz", { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("content-type"), "application/problem+json");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal(JSON.parse(limited.body).status, 429);
  } finally {
    await srv.stop();
  }
});

Deno.test("connect limit applies to /connect only; pairing claims have their own bucket", async () => {
  const srv = await startTestServer({
    rateLimits: { http: OPEN, connect: { burst: 2, ...SLOW }, pairing: { burst: 1, ...SLOW } },
  });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    await assert.rejects(CommuCatClient.connect(connectOptions(srv, newDevice())), /429/);
    assert.equal((await get(srv, "/api/server-info")).status, 200, "REST is another bucket");
    const claim = (code: string) =>
      get(srv, "/api/pair/claim", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pair_code: code }),
      });
    assert.equal((await claim("AAAA-AAAA")).status, 404);
    assert.equal((await claim("BBBB-BBBB")).status, 429);
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("handshake cap: past it new handshakes are refused at once (503), then admitted again", async () => {
  const srv = await startTestServer({ maxHandshakesInFlight: 1, handshakeTimeoutMs: 60_000 });
  try {
    const idle = await RawConnection.open(srv); // holds the only slot: never sends a Hello
    await assert.rejects(CommuCatClient.connect(connectOptions(srv, newDevice())), /503/);
    idle.close();
    let connected: CommuCatClient | null = null;
    for (let i = 0; i < 50 && !connected; i++) {
      connected = await CommuCatClient.connect(connectOptions(srv, newDevice())).catch(() => null);
      if (!connected) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(connected, "a slot frees up once the idle connection is gone");
    connected.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("a busy address: start-up fails naming the address and server.bind, nothing left open", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      startTestServer({ port: busy.addr.port }),
      new RegExp(
        `^ListenError: cannot listen on 127\\.0\\.0\\.1:${busy.addr.port} \\(server\\.bind\\): ` +
          "address already in use$",
      ),
    );
  } finally {
    busy.close();
  }
});

/** Opens a plain TCP socket to the server (no TLS byte sent). */
function tcp(srv: { server: { addr: { port: number } } }): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: srv.server.addr.port });
}

/** Resolves "closed" once the server ends `conn`, or "open" after `waitMs` (bounded). */
async function closedByServer(conn: Deno.Conn, waitMs: number): Promise<"closed" | "open"> {
  const buf = new Uint8Array(64);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    conn.read(buf).then(() => "closed" as const, () => "closed" as const),
    new Promise<"open">((r) => (timer = setTimeout(() => r("open"), waitMs))),
  ]);
  clearTimeout(timer);
  return outcome;
}

const closeAll = (conns: Deno.Conn[]) => {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed by the server already */ }
  }
};

Deno.test("first-request timeout: a silent socket and a half-sent TLS hello are closed", async () => {
  const srv = await startTestServer({
    connections: { firstRequestTimeoutMs: 300, maxTotal: 100, maxPerIp: 100 },
  });
  const conns: Deno.Conn[] = [];
  try {
    const silent = await tcp(srv);
    const half = await tcp(srv);
    conns.push(silent, half);
    await half.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a TLS record cut short
    assert.equal(await closedByServer(silent, 10_000), "closed");
    assert.equal(await closedByServer(half, 10_000), "closed");
    assert.equal((await get(srv, "/healthz")).status, 200, "a real client is still served");
  } finally {
    closeAll(conns);
    await srv.stop();
  }
});

Deno.test("per-IP cap: the N+1th socket of one address is closed at once, others stay", async () => {
  const srv = await startTestServer({
    connections: { firstRequestTimeoutMs: 60_000, maxTotal: 100, maxPerIp: 2 },
  });
  const conns: Deno.Conn[] = [];
  try {
    conns.push(await tcp(srv), await tcp(srv));
    const third = await tcp(srv);
    conns.push(third);
    assert.equal(await closedByServer(third, 10_000), "closed");
    assert.equal(await closedByServer(conns[0], 200), "open", "the first two are kept");
    closeAll(conns.splice(0, 1));
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await get(srv, "/healthz").then((r) => r.status, () => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, "a freed slot admits a client again");
  } finally {
    closeAll(conns);
    await srv.stop();
  }
});

Deno.test("global cap: sockets past server.max_connections are refused and the log says why", async () => {
  const lines: string[] = [];
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-test-" });
  const { startServer, defaultSettings, createLogger } = await import("../src/server/mod.ts");
  const server = await startServer(
    defaultSettings({
      hostname: "127.0.0.1",
      port: 0,
      dataDir,
      sqlitePath: `${dataDir}/commucat.db`,
      connections: { firstRequestTimeoutMs: 60_000, maxTotal: 2, maxPerIp: 100 },
    }),
    createLogger({ level: "warning", format: "json", write: (l) => lines.push(l) }),
  );
  const conns: Deno.Conn[] = [];
  try {
    conns.push(await tcp({ server }), await tcp({ server }));
    const third = await tcp({ server });
    conns.push(third);
    assert.equal(await closedByServer(third, 10_000), "closed");
    const refused = lines.map((l) => JSON.parse(l)).find((r) =>
      r.message === "connection refused: server.max_connections reached"
    );
    assert.ok(refused, `no refusal logged: ${lines.join("\n")}`);
    assert.match(refused.listener, /server\.bind/);
  } finally {
    closeAll(conns);
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test({
  name: `descriptor exhaustion (guarded accept): accepts or loopback dials fail with EMFILE, ` +
    `the server pauses, lives on and serves once descriptors free up${
      havePrlimit ? "" : " (SKIPPED: prlimit missing)"
    }`,
  ignore: !havePrlimit,
  // Spawns a real server process; its child pipes are closed by stop().
  async fn() {
    // Silent sockets keep their descriptors until the test closes them (no first-request timeout).
    const token = "adm-" + crypto.randomUUID();
    const srv = await spawnServer({
      env: { COMMUCAT_FIRST_REQUEST_TIMEOUT_MS: "600000", COMMUCAT_ADMIN_TOKEN: token },
    });
    const conns: Deno.Conn[] = [];
    let exited = false;
    srv.child.status.then(() => (exited = true));
    // Whichever runs short first says so: the public accept (it pauses), the loopback HTTP
    // server's accept (it restarts) or a loopback dial (the connection is held). In the last
    // two the public accept waits while the engine holds connections, so it may never fail.
    const publicAccept = /accept failed; pausing \(descriptors exhausted\?\)/;
    const exhausted = new RegExp(
      `${publicAccept.source}|loopback HTTP server failed; restarting|` +
        "loopback dial failed; holding accepted connections",
    );
    let limits: { soft: number; hard: number } | undefined;
    try {
      const { soft, hard, open } = await fdUsage(srv.child.pid);
      limits = { soft, hard };
      // A few descriptors above what the idle server holds: accepts and dials soon fail.
      await setFdLimit(srv.child.pid, open + 8, hard);
      // One silent socket at a time until the server logs that descriptors ran out. In
      // guarded mode the port stays open (the kernel's backlog completes the connects), so
      // the log line, not a refused dial, is the sign. How many dials that takes varies, so
      // the bound is time, not a count of dials.
      await until(
        async () => {
          if (exhausted.test(srv.stderr())) return true;
          conns.push(
            await within(
              Deno.connect({ hostname: "127.0.0.1", port: srv.port }),
              "a connect (the kernel's backlog takes it)",
            ),
          );
          return false; // paced by until's polling: the server accepts in between
        },
        "descriptors running out (a log line)",
        { ms: LOADED_MS, everyMs: 10 },
      );
      assert.equal(exited, false, "the server process is still running");
      // Descriptors free up (the server sees the sockets close); the limit stays lowered.
      closeAll(conns.splice(0));
      await until(
        () => get(srv as unknown as TestServer, "/healthz").then((r) => r.status === 200),
        "a normal client to be served again",
        { ms: LOADED_MS },
      );
      assert.equal(exited, false);
      // A failed public accept is counted in /metrics (the log line is rate-limited; the
      // counter is not); the caps refused nothing.
      const loggedBefore = publicAccept.test(srv.stderr());
      const { text } = await scrapeMetrics(srv, token);
      const failedAccepts = httpRefusals(text, "accept_error");
      if (loggedBefore) assert.ok(failedAccepts >= 1, "the failed accepts are counted");
      if (failedAccepts >= 1) assert.match(srv.stderr(), publicAccept, "and logged");
      assert.equal(httpRefusals(text, "total") + httpRefusals(text, "per_client"), 0);
    } finally {
      closeAll(conns);
      // Restored before the stop also when an assertion failed: a shutdown short of
      // descriptors would hide that failure behind a wrong exit code.
      // (A process already gone has no limit to restore: its exit is asserted on.)
      if (limits) await setFdLimit(srv.child.pid, limits.soft, limits.hard).catch(() => {});
      const code = await srv.stop();
      assert.equal(code, 0, "stops cleanly on SIGTERM");
    }
  },
});

Deno.test("serve on a busy address exits with one line naming it and server.bind", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-proc-" });
  try {
    await assert.rejects(
      spawnServer({ port: busy.addr.port, dataDir }),
      new RegExp(
        `commucat: serve: cannot start: cannot listen on 127\\.0\\.0\\.1:${busy.addr.port} ` +
          "\\(server\\.bind\\): address already in use\\n",
      ),
    );
  } finally {
    busy.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
