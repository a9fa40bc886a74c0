/**
 * `/metrics` end to end: admin auth, the exposition's names, counters that
 * move with real handshakes and messages, `promtool check metrics`, no
 * secrets in debug logs of a whole session, and the operations guide's
 * embedded configuration reference being current.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { embedConfigReference } from "../src/config/mod.ts";
import { toHex } from "../src/crypto/mod.ts";
import { UPSTREAM_METRICS } from "../src/metrics/mod.ts";
import { createLogger, defaultSettings, startServer } from "../src/server/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice, type ServerHandle } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { httpRefusals, sample } from "./helpers/metrics.ts";
import { within } from "./helpers/raw.ts";

const ADMIN_TOKEN = "adm-" + toHex(crypto.getRandomValues(new Uint8Array(24)));

async function get(
  server: ServerHandle,
  path: string,
  authorization?: string,
): Promise<Response> {
  const client = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  try {
    const response = await fetch(`${server.url}${path}`, {
      client,
      headers: authorization === undefined ? {} : { authorization },
    });
    // Read the body before the client goes away.
    const body = await response.arrayBuffer();
    return new Response(body, { status: response.status, headers: response.headers });
  } finally {
    client.close();
  }
}

async function scrape(server: ServerHandle): Promise<string> {
  const response = await get(server, "/metrics", `Bearer ${ADMIN_TOKEN}`);
  assert.equal(response.status, 200);
  return await response.text();
}

/** Connects with a wrong server static key: the server's handshake fails. */
async function failedHandshake(server: ServerHandle): Promise<void> {
  const wrong = crypto.getRandomValues(new Uint8Array(32));
  await assert.rejects(
    CommuCatClient.connect(connectOptions(server, newDevice("mallory"), { serverStatic: wrong })),
  );
}

Deno.test("/metrics without admin.token configured: a generated token (shown once) works", async () => {
  const srv = await startTestServer();
  try {
    const generated = srv.server.generatedAdminToken;
    assert.ok(generated && generated.length >= 32, "a token is generated at first start");
    const refused = await get(srv, "/metrics", "Bearer anything-at-all-here");
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    const body = await refused.json();
    assert.equal(body.status, 401);
    assert.equal(body.title, "Unauthorized");
    const ok = await get(srv, "/metrics", `Bearer ${generated}`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await srv.stop();
  }
});

Deno.test("/metrics admin auth: missing and wrong tokens are 401, the right one is 200", async () => {
  const srv = await startTestServer({ adminToken: ADMIN_TOKEN });
  try {
    const missing = await get(srv, "/metrics");
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get("content-type"), "application/problem+json");
    assert.equal((await missing.json()).detail, "missing Authorization header");
    for (const wrong of [`Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(1)}`, "Bearer "]) {
      const response = await get(srv, "/metrics", wrong);
      assert.equal(response.status, 401, wrong);
      const body = await response.json();
      assert.equal(body.title, "Unauthorized");
      assert.doesNotMatch(JSON.stringify(body), new RegExp(ADMIN_TOKEN));
    }
    for (const right of [`Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`, ADMIN_TOKEN]) {
      const response = await get(srv, "/metrics", right);
      assert.equal(response.status, 200, right);
      assert.equal(
        response.headers.get("content-type"),
        "text/plain; version=0.0.4; charset=utf-8",
      );
      assert.match(await response.text(), /^# HELP /m);
    }
  } finally {
    await srv.stop();
  }
});

Deno.test("exposition has every name, and counters move honestly with real traffic", async () => {
  const srv = await startTestServer({ adminToken: ADMIN_TOKEN });
  try {
    const before = await scrape(srv);
    for (const m of UPSTREAM_METRICS) {
      assert.match(before, new RegExp(`^# TYPE ${m.name} ${m.type}$`, "m"), m.name);
    }
    for (
      const name of [
        "commucat_handshake_duration_seconds histogram",
        "commucat_handshakes_total counter",
        "commucat_routing_latency_seconds histogram",
        "commucat_connections gauge",
        "commucat_relay_queue_depth gauge",
        "commucat_offline_queue_write_failures_total counter",
        "commucat_rate_limit_denials_total counter",
        "commucat_federation_outbox_attempts_total counter",
        "commucat_build_info gauge",
        "process_start_time_seconds gauge",
        "process_resident_memory_bytes gauge",
        "deno_heap_used_bytes gauge",
      ]
    ) assert.match(before, new RegExp(`^# TYPE ${name}$`, "m"), name);
    assert.equal(sample(before, "commucat_security_noise_total"), 0);
    assert.equal(sample(before, "commucat_connections_active"), 0);
    assert.ok(sample(before, "process_resident_memory_bytes") > 0);

    // One handshake → the Noise counter moves by exactly one.
    const alice = newDevice("alice");
    const bob = newDevice("bob");
    // Clients that send only what the test sends: the SDK's delivery acks go out on a 20 ms
    // timer (or ride along with the next frame), so with them a scrape a little slower than
    // that (a loaded machine) also counts acks for the Join's and the Msg's Acks and for the
    // delivered Msg — the "ingress moved by 3" flake. Without them the count is exact.
    const quiet = (device: typeof alice) => ({
      ...connectOptions(srv, device),
      acknowledgeDeliveries: false,
    });
    const a = await CommuCatClient.connect(quiet(alice));
    const one = await scrape(srv);
    assert.equal(sample(one, "commucat_security_noise_total"), 1);
    assert.equal(sample(one, "commucat_handshakes_total", { result: "ok", reason: "none" }), 1);
    assert.equal(sample(one, "commucat_handshake_duration_seconds_count", { result: "ok" }), 1);
    assert.equal(sample(one, "commucat_connections_active"), 1);
    assert.equal(sample(one, "commucat_connections", { mode: "binary" }), 1);
    assert.ok(
      sample(one, "commucat_frames_ingress_total") >
        sample(before, "commucat_frames_ingress_total"),
    );
    assert.ok(
      sample(one, "commucat_frames_egress_total") > sample(before, "commucat_frames_egress_total"),
    );

    // A message between two live devices.
    const b = await CommuCatClient.connect(quiet(bob));
    await befriend(srv, a, b);
    await a.join(7, [bob.deviceId]);
    const ingressBefore = sample(await scrape(srv), "commucat_frames_ingress_total");
    await a.send(7, "metrics hello");
    assert.ok(await b.next());
    const two = await scrape(srv);
    assert.equal(sample(two, "commucat_security_noise_total"), 2);
    assert.equal(sample(two, "commucat_connections_active"), 2);
    // Exactly the one Msg: nothing else was sent meanwhile, however slow the scrape.
    assert.equal(sample(two, "commucat_frames_ingress_total") - ingressBefore, 1, "ingress");

    // A failed handshake is counted as such, not as a Noise handshake.
    await failedHandshake(srv);
    const three = await scrape(srv);
    assert.equal(sample(three, "commucat_security_noise_total"), 2);
    assert.equal(
      sample(three, "commucat_handshake_duration_seconds_count", { result: "failed" }),
      1,
    );
    const failed = three.split("\n").filter((l) =>
      l.startsWith('commucat_handshakes_total{result="failed"')
    );
    assert.equal(failed.reduce((n, l) => n + Number(l.split(" ").at(-1)), 0), 1);

    // Offline delivery: the relay gauges mirror the router and the store.
    b.close();
    await within(
      (async () => {
        while (sample(await scrape(srv), "commucat_connections_active") !== 1) {
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      "bob's connection to close",
    );
    await a.send(7, "while you were away");
    const four = await scrape(srv);
    assert.equal(
      sample(four, "commucat_relay_enqueued_total"),
      srv.server.router.offlineQueue.stats.enqueued,
    );
    assert.ok(sample(four, "commucat_relay_enqueued_total") >= 1);
    assert.equal(
      sample(four, "commucat_relay_queue_depth"),
      await srv.server.store.countOfflineTotal(),
    );
    assert.ok(sample(four, "commucat_relay_queue_depth") >= 1);
    a.close();
  } finally {
    await srv.stop();
  }
});

/** The caps a refusal is counted under, with the settings that make one slot the whole cap. */
const CAPS = {
  total: { key: "server.max_connections", connections: { maxTotal: 1, maxPerIp: 100 } },
  per_client: { key: "server.max_connections_per_ip", connections: { maxTotal: 100, maxPerIp: 1 } },
} as const;

for (const accept of ["guarded", "direct"] as const) {
  for (const [reason, cap] of Object.entries(CAPS)) {
    Deno.test(`refusals at ${cap.key} are counted (${accept} accept)`, async () => {
      const srv = await startTestServer({
        adminToken: ADMIN_TOKEN,
        accept,
        connections: { firstRequestTimeoutMs: 10_000, ...cap.connections },
      });
      // Every scrape past the cap is itself refused (guarded: the socket is closed at once and
      // the fetch fails; direct: 503 for the global cap, 429 per client), so count them: the
      // counter must equal exactly that many.
      let refused = 0;
      const tryScrape = async (): Promise<string | null> => {
        const response = await get(srv, "/metrics", `Bearer ${ADMIN_TOKEN}`).catch(() => null);
        if (response?.status === 200) return await response.text();
        if (accept === "direct") assert.equal(response?.status, reason === "total" ? 503 : 429);
        else assert.equal(response, null, "guarded: the socket is closed before any HTTP");
        refused++;
        return null;
      };
      try {
        // A WebSocket session holds the one slot (one socket; one live request in direct mode).
        const a = await CommuCatClient.connect(
          connectOptions(srv, newDevice(), { mode: "websocket" }),
        );
        for (let i = 0; i < 3; i++) {
          assert.equal(await tryScrape(), null, "past the cap the scrape is refused");
        }
        a.close();
        let text: string | null = null;
        for (let i = 0; i < 100 && text === null; i++) {
          text = await tryScrape();
          if (text === null) await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(text, "the slot came back once the session closed");
        assert.ok(refused >= 3);
        const count = (why: string) => httpRefusals(text!, why);
        assert.equal(count(reason), refused);
        for (const other of ["total", "per_client", "timeout", "accept_error"]) {
          if (other !== reason) assert.equal(count(other), 0, `nothing counted as ${other}`);
        }
      } finally {
        await srv.stop();
      }
    });
  }
}

Deno.test("the Shadowsocks listener's refusals are counted under listener=shadowsocks", async () => {
  const srv = await startTestServer({
    adminToken: ADMIN_TOKEN,
    shadowsocks: { hostname: "127.0.0.1", port: 0, method: "aes-256-gcm", password: "ss-pass" },
    connections: { firstRequestTimeoutMs: 10_000, maxTotal: 100, maxPerIp: 1 },
  });
  const ss = { hostname: "127.0.0.1", port: srv.server.shadowsocksAddr!.port };
  const readToEnd = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(1024);
    while ((await conn.read(buf).catch(() => null)) !== null) { /* drained */ }
  };
  try {
    // A probe takes 127.0.0.1's one slot; its garbage does not authenticate (silence).
    const probe = await Deno.connect(ss);
    await probe.write(crypto.getRandomValues(new Uint8Array(600)));
    // A second socket from the same address is over server.max_connections_per_ip: closed at
    // once, after it was counted (the listener counts, then the client sees the end).
    const over = await Deno.connect(ss);
    await readToEnd(over);
    over.close();
    // Closing the probe frees the slot once its garbage has been read and counted.
    probe.close();
    let refusedScrapes = 0;
    let text: string | null = null;
    for (let i = 0; i < 100 && text === null; i++) {
      const response = await get(srv, "/metrics", `Bearer ${ADMIN_TOKEN}`).catch(() => null);
      if (response?.status === 200) text = await response.text();
      else {
        refusedScrapes++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(text, "the slot came back once the probe closed");
    const count = (listener: string, reason: string) =>
      sample(text!, "commucat_connections_refused_total", { listener, reason });
    assert.equal(count("shadowsocks", "per_client"), 1);
    assert.equal(count("shadowsocks", "unauthenticated"), 1);
    assert.equal(count("shadowsocks", "total"), 0);
    assert.equal(count("shadowsocks", "timeout"), 0);
    // Scrapes refused while the slot was held are the TLS listener's, not the tunnel's.
    assert.equal(count("http", "per_client"), refusedScrapes);
  } finally {
    await srv.stop();
  }
});

const promtool = (() => {
  try {
    const out = new Deno.Command("promtool", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: promtool
    ? "promtool check metrics accepts the exposition"
    : "promtool check metrics accepts the exposition (skipped: promtool missing)",
  ignore: !promtool,
  fn: async () => {
    const srv = await startTestServer({ adminToken: ADMIN_TOKEN });
    try {
      const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
      await failedHandshake(srv);
      const text = await scrape(srv);
      a.close();
      const child = new Deno.Command("promtool", {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      const out = await child.output();
      const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `promtool said:\n${said}`);
      assert.equal(said.trim(), "", `promtool warned:\n${said}`);
    } finally {
      await srv.stop();
    }
  },
});

Deno.test("a whole session logged at debug level shows no keys, tokens or message text", async () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) });
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-logs-" });
  const server = await startServer(
    defaultSettings({
      hostname: "127.0.0.1",
      port: 0,
      dataDir,
      sqlitePath: `${dataDir}/commucat.db`,
      adminToken: ADMIN_TOKEN,
    }),
    log,
  );
  const srv: ServerHandle = {
    url: `https://localhost:${server.addr.port}`,
    domain: server.domain,
    noisePublic: server.keys.noise.publicKey,
    certificatePem: server.certificatePem,
  };
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  const text = `secret-message-${crypto.randomUUID()}`;
  const secrets: Record<string, string> = {
    "device private key": toHex(alice.privateKey),
    "other device private key": toHex(bob.privateKey),
    "noise private key": toHex(server.keys.noise.privateKey),
    "admin token": ADMIN_TOKEN,
    "message text": text,
  };
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, alice));
    const b = await CommuCatClient.connect(connectOptions(srv, bob));
    secrets["session token"] = a.session.sessionId;
    secrets["other session token"] = b.session.sessionId;
    await befriend(srv, a, b);
    await a.join(9, [bob.deviceId]);
    await a.send(9, text);
    assert.ok(await b.next());
    await failedHandshake(srv);
    assert.equal((await get(srv, "/metrics", `Bearer ${ADMIN_TOKEN}`)).status, 200);
    assert.equal((await get(srv, "/metrics", `Bearer ${ADMIN_TOKEN}-wrong`)).status, 401);
    a.close();
    b.close();
  } finally {
    await server.stop();
    // Cleanup only: a leftover temp directory must not hide the test's own failure.
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
  const all = lines.join("\n");
  assert.match(all, /handshake ok/, "the session was logged at all");
  assert.match(all, /handshake failed/, "the failed handshake was logged");
  for (const [what, value] of Object.entries(secrets)) {
    assert.ok(!all.toLowerCase().includes(value.toLowerCase()), `${what} appears in the logs`);
  }
});

Deno.test("docs/OPERATIONS.md embeds the current configuration reference", async () => {
  const path = new URL("../docs/OPERATIONS.md", import.meta.url);
  const doc = await Deno.readTextFile(path);
  assert.equal(
    embedConfigReference(doc),
    doc,
    "stale: run `scripts/deno run -A cli/config_docs.ts` or re-embed with embedConfigReference",
  );
});
