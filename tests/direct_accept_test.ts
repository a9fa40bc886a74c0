/**
 * The direct accept mode (`server.accept = "direct"`): `Deno.serve` on the
 * public TLS port, no loopback pump. Sessions work end to end over TLS; the
 * connection caps count live requests and WebSocket sessions and refuse past
 * them with problem+json (503 in all, 429 per client); the config key is
 * validated.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { loadConfig } from "../src/config/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { httpRefusals, scrapeMetrics } from "./helpers/metrics.ts";
import { fdUsage, havePrlimit, setFdLimit, spawnServer } from "./helpers/process.ts";

async function get(srv: TestServer, path: string) {
  const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    const response = await fetch(`${srv.url}${path}`, { client });
    return { status: response.status, headers: response.headers, body: await response.text() };
  } finally {
    client.close();
  }
}

/** Retries until `attempt` succeeds (a slot is given back when the server sees the close). */
async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

for (const mode of ["websocket", "binary"] as const) {
  Deno.test(`direct accept: two devices exchange messages over TLS (${mode})`, async () => {
    const srv = await startTestServer({ accept: "direct" });
    try {
      const alice = newDevice("alice");
      const bob = newDevice("bob");
      const a = await CommuCatClient.connect(connectOptions(srv, alice, { mode }));
      const b = await CommuCatClient.connect(connectOptions(srv, bob, { mode }));
      assert.equal(a.session.ack.handshake, "ok");
      await befriend(srv, a, b);
      await a.join(7, [bob.deviceId]);
      await a.send(7, "hello bob");
      const got = await b.next();
      assert.equal(got?.type, FrameType.Msg);
      assert.equal(fromUtf8(got.payload), "hello bob");
      await b.send(7, "hi alice");
      assert.equal(fromUtf8((await a.next())!.payload), "hi alice");
      a.close();
      b.close();
    } finally {
      await srv.stop();
    }
  });
}

Deno.test("direct accept: a WebSocket session holds its slot; past the per-client cap 429 problem+json", async () => {
  const srv = await startTestServer({
    accept: "direct",
    connections: { firstRequestTimeoutMs: 10_000, maxTotal: 100, maxPerIp: 1 },
  });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice(), { mode: "websocket" }));
    // The session is past its 101: its slot is still taken.
    const refused = await get(srv, "/healthz");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    assert.match(JSON.parse(refused.body).detail, /server\.max_connections_per_ip/);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    // (Deno's WebSocket client reports a refused upgrade without its status.)
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, newDevice(), { mode: "websocket" })),
    );
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, newDevice(), { mode: "binary" })),
      /429/,
    );
    a.close();
    // Closing the session gives the slot back.
    assert.equal(
      (await eventually(async () => {
        const r = await get(srv, "/healthz");
        if (r.status !== 200) throw new Error(`still ${r.status}`);
        return r;
      })).status,
      200,
    );
    // A plain request gives its slot back once answered.
    assert.equal((await get(srv, "/healthz")).status, 200);
  } finally {
    await srv.stop();
  }
});

Deno.test("direct accept: past server.max_connections requests get 503 problem+json", async () => {
  const srv = await startTestServer({
    accept: "direct",
    connections: { firstRequestTimeoutMs: 10_000, maxTotal: 1, maxPerIp: 100 },
  });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice(), { mode: "websocket" }));
    const refused = await get(srv, "/healthz");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    assert.match(JSON.parse(refused.body).detail, /server\.max_connections reached/);
    a.close();
    await eventually(async () => {
      const r = await get(srv, "/healthz");
      if (r.status !== 200) throw new Error(`still ${r.status}`);
    });
  } finally {
    await srv.stop();
  }
});

Deno.test({
  name: `direct accept: out of descriptors the port closes, is counted, is bound again and serves${
    havePrlimit ? "" : " (SKIPPED: prlimit missing)"
  }`,
  ignore: !havePrlimit,
  async fn() {
    const token = "adm-" + crypto.randomUUID();
    const srv = await spawnServer({
      env: {
        COMMUCAT_SERVER_ACCEPT: "direct",
        COMMUCAT_LOG_LEVEL: "info",
        COMMUCAT_ADMIN_TOKEN: token,
      },
    });
    const conns: Deno.Conn[] = [];
    let exited = false;
    srv.child.status.then(() => (exited = true));
    try {
      const pid = srv.child.pid;
      // The limit is lowered on the running process (as `ulimit -n` would at its start) to a few
      // descriptors above what the idle server holds: the accepts soon fail with EMFILE. Lowered
      // after start-up, not through spawnServer's fdLimit, since start-up needs more than idle.
      const { soft, hard, open } = await fdUsage(pid);
      await setFdLimit(pid, open + 8, hard);
      // Silent sockets hold their descriptors (direct mode has no first-request timeout); once
      // an accept fails, Deno.serve's accept loop ends and closes the port: a connect is refused.
      let refused = false;
      for (let i = 0; i < 500 && !refused; i++) {
        try {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port: srv.port }));
          await new Promise((r) => setTimeout(r, 10)); // pace the dials, the server accepts
        } catch (error) {
          assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
          refused = true;
        }
      }
      assert.ok(refused, "the port closed once the descriptors ran out");
      assert.match(srv.stderr(), /accept failed; port closed, binding again/);
      assert.equal(exited, false, "the server process is still running");
      // Descriptors free up (the limit stays lowered): the port is bound again after its
      // back-off and serves.
      for (const conn of conns.splice(0)) conn.close();
      const metrics = await eventually(async () => {
        const r = await scrapeMetrics(srv, token);
        if (r.status !== 200) throw new Error(`still ${r.status}`);
        return r.text;
      });
      assert.match(srv.stderr(), /listening again/);
      assert.equal(exited, false);
      // Each failed accept closed the port once and is counted once (its log line is not
      // rate-limited); the caps refused nothing.
      const failures = srv.stderr().match(/accept failed; port closed, binding again/g)!.length;
      assert.equal(httpRefusals(metrics, "accept_error"), failures);
      assert.equal(httpRefusals(metrics, "total") + httpRefusals(metrics, "per_client"), 0);
      await setFdLimit(pid, soft, hard);
    } finally {
      for (const conn of conns) conn.close();
      assert.equal(await srv.stop(), 0, "stops cleanly on SIGTERM");
    }
  },
});

Deno.test("server.accept: default guarded, env and file set it, a bad value names the key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-accept-" });
  try {
    const file = `${dir}/commucat.toml`;
    await Deno.writeTextFile(file, '[server]\naccept = "direct"\n');
    assert.equal(loadConfig({ path: file, env: {} }).server.accept, "direct");
    await Deno.writeTextFile(file, "");
    assert.equal(loadConfig({ path: file, env: {} }).server.accept, "guarded");
    const fromEnv = loadConfig({ path: file, env: { COMMUCAT_SERVER_ACCEPT: "direct" } });
    assert.equal(fromEnv.server.accept, "direct");
    await Deno.writeTextFile(file, '[server]\naccept = "fast"\n');
    assert.throws(
      () => loadConfig({ path: file, env: {} }),
      (error: Error) =>
        /server\.accept/.test(error.message) && /guarded, direct/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
