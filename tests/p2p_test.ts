/**
 * `/api/p2p/assist` and the `/p2p` relay through a real in-process server:
 * session bearer required, the listeners' real transports, the FEC profile,
 * the per-device limit, and two friends relayed over TLS while a stranger
 * and a forged token are refused.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { api, assertProblem, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

async function withServer(fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startTestServer();
  try {
    await fn(srv);
  } finally {
    await srv.stop();
  }
}

/** A relay socket over TLS to the test server. */
function relaySocket(srv: TestServer, token: string, client: Deno.HttpClient) {
  const ws = new WebSocket(`${srv.url.replace("https:", "wss:")}/p2p`, {
    headers: { authorization: `Bearer ${token}` },
    client,
  } as unknown as string[]);
  const messages: string[] = [];
  const waiters: ((m: string) => void)[] = [];
  let opened = false;
  ws.onmessage = (e) => {
    const w = waiters.shift();
    if (w) w(String(e.data));
    else messages.push(String(e.data));
  };
  ws.onerror = () => {};
  return {
    ws,
    get opened() {
      return opened;
    },
    open: new Promise<void>((resolve) => {
      ws.onopen = () => {
        opened = true;
        resolve();
      };
    }),
    closed: new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code))),
    next: () =>
      messages.length
        ? Promise.resolve(messages.shift()!)
        : new Promise<string>((r) => waiters.push(r)),
  };
}

Deno.test("p2p assist: authenticated, real transports and FEC profile, limited per device", async () => {
  await withServer(async (srv) => {
    const alice = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    try {
      assertProblem(await api(srv, "GET", "/api/p2p/assist"), 401);
      assertProblem(await api(srv, "GET", "/api/p2p/assist", { as: "forged-token" }), 401);
      const got = await api(srv, "GET", "/api/p2p/assist", { as: alice });
      assert.equal(got.status, 200, got.text);
      const body = got.body!;
      const transports = body.transports as Record<string, unknown>[];
      assert.deepEqual(transports.map((t) => t.kind), ["tls"], "only what is bound");
      assert.equal(transports[0].port, Number(new URL(srv.url).port));
      const noise = body.noise as Record<string, unknown>;
      assert.equal(
        noise.static_public_hex,
        Array.from(srv.noisePublic, (b) => b.toString(16).padStart(2, "0")).join(""),
      );
      const fec = body.fec as Record<string, unknown>;
      assert.equal(fec.scheme, "RaptorQ");
      assert.equal(fec.repair_esi_from, "K'");
      const mp = body.multipath as Record<string, unknown>;
      assert.equal(mp.schedule, "duplicate", "two planned paths duplicate");
      const posted = await api(srv, "POST", "/api/p2p/assist", {
        as: alice,
        json: { min_paths: 3, paths: [{ address: "10.0.0.1" }] },
      });
      assert.equal(posted.status, 200, posted.text);
      const planned = posted.body!.multipath as Record<string, unknown>;
      assert.equal(planned.schedule, "raptorq");
      assert.equal(planned.fec_overhead, 0.55);
      const segments = planned.sample_segments as Record<string, { total: number }>;
      assert.equal(Object.keys(segments).length, 3);
      assertProblem(
        await api(srv, "POST", "/api/p2p/assist", { as: alice, json: { min_paths: 99 } }),
        400,
      );
      // The per-device budget (10 a minute) runs out; the answer says when to retry.
      let limited = null;
      for (let i = 0; i < 12 && !limited; i++) {
        const r = await api(srv, "GET", "/api/p2p/assist", { as: alice });
        if (r.status === 429) limited = r;
      }
      assert.ok(limited, "429 after the budget");
      assertProblem(limited, 429);
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    } finally {
      await alice.close();
    }
  });
});

Deno.test("p2p relay: friends relayed over TLS; a stranger and a forged token are refused", async () => {
  await withServer(async (srv) => {
    const aliceDevice = newDevice("alice"), bobDevice = newDevice("bob");
    const alice = await CommuCatClient.connect(connectOptions(srv, aliceDevice));
    const bob = await CommuCatClient.connect(connectOptions(srv, bobDevice));
    const eve = await CommuCatClient.connect(connectOptions(srv, newDevice("eve")));
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    try {
      await befriend(srv, alice, bob);
      const session = "friends-relay-0123456789";
      const a = relaySocket(srv, alice.session.sessionId, client);
      await a.open;
      a.ws.send(JSON.stringify({ session_id: session, peer: bobDevice.deviceId }));
      assert.equal(JSON.parse(await a.next()).status, "waiting");
      // eve is nobody's friend: she may not wait for alice, nor take bob's place.
      const e1 = relaySocket(srv, eve.session.sessionId, client);
      await e1.open;
      e1.ws.send(
        JSON.stringify({ session_id: "eve-own-session-0123456", peer: aliceDevice.deviceId }),
      );
      assert.equal(await e1.closed, 4403);
      const e2 = relaySocket(srv, eve.session.sessionId, client);
      await e2.open;
      e2.ws.send(JSON.stringify({ session_id: session, peer: aliceDevice.deviceId }));
      assert.equal(await e2.closed, 4403);
      const forged = relaySocket(srv, "0".repeat(64), client);
      await forged.closed;
      assert.equal(forged.opened, false);
      const b = relaySocket(srv, bob.session.sessionId, client);
      await b.open;
      b.ws.send(JSON.stringify({ session_id: session, peer: aliceDevice.deviceId }));
      assert.equal(JSON.parse(await b.next()).peer, aliceDevice.deviceId);
      assert.equal(JSON.parse(await a.next()).peer, bobDevice.deviceId);
      a.ws.send("ciphertext from alice");
      assert.equal(await b.next(), "ciphertext from alice");
      a.ws.close();
      assert.equal(await b.closed, 1000);
      await a.closed;
    } finally {
      client.close();
      await Promise.all([alice.close(), bob.close(), eve.close()]);
    }
  });
});

Deno.test("p2p probe: the server times echoes over TLS and assist reports the path", async () => {
  await withServer(async (srv) => {
    const alice = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    try {
      const ws = new WebSocket(`${srv.url.replace("https:", "wss:")}/p2p/probe?path=tls-ws`, {
        headers: { authorization: `Bearer ${alice.session.sessionId}` },
        client,
      } as unknown as string[]);
      const done = await new Promise<Record<string, unknown>>((resolve, reject) => {
        let result: Record<string, unknown> | null = null;
        ws.onmessage = (e) => {
          const m = JSON.parse(String(e.data));
          if (m.done) result = m;
          else ws.send(String(e.data)); // echo
        };
        ws.onclose = (e) => (result ? resolve(result) : reject(new Error(`closed ${e.code}`)));
        ws.onerror = () => {};
      });
      assert.equal(done.path, "tls-ws");
      assert.equal(done.samples, 10);
      const assist = await api(srv, "GET", "/api/p2p/assist", { as: alice });
      const paths = assist.body!.paths as {
        path_id: string;
        network_quality: Record<string, unknown>;
      }[];
      assert.deepEqual(paths.map((p) => p.path_id), ["tls-ws"]);
      assert.equal(
        paths[0].network_quality.rtt_ms,
        Math.round((done.rtt_ms as number) * 1000) / 1000,
      );
      assert.equal(paths[0].network_quality.samples, 10);
      assert.equal(paths[0].network_quality.probe_method, "path_echo");
      const mp = assist.body!.multipath as Record<string, unknown>;
      assert.equal(mp.primary_path, "tls-ws");
      assert.equal(mp.live_paths, 1);
      // A forged token never gets a socket.
      const forged = new WebSocket(`${srv.url.replace("https:", "wss:")}/p2p/probe`, {
        headers: { authorization: `Bearer ${"0".repeat(64)}` },
        client,
      } as unknown as string[]);
      let opened = false;
      forged.onopen = () => (opened = true);
      forged.onerror = () => {};
      await new Promise((r) => (forged.onclose = r));
      assert.equal(opened, false);
    } finally {
      client.close();
      await alice.close();
    }
  });
});

Deno.test("p2p assist: a multipath session's live paths are listed (unmeasured until probed)", async () => {
  await withServer(async (srv) => {
    const alice = await within(
      CommuCatClient.connect(
        connectOptions(srv, newDevice("alice"), { mode: "binary", paths: ["websocket", "sse"] }),
      ),
      "alice",
    );
    try {
      await within(alice.multipath!.waitForPaths(3), "three paths");
      const got = await api(srv, "GET", "/api/p2p/assist", { as: alice });
      assert.equal(got.status, 200, got.text);
      const paths = got.body!.paths as {
        path_id: string;
        mode: string;
        network_quality: unknown;
      }[];
      assert.deepEqual(paths.map((p) => p.mode).sort(), ["binary", "sse", "websocket"]);
      assert.ok(paths.every((p) => p.network_quality === null), "nothing invented");
      const mp = got.body!.multipath as Record<string, unknown>;
      assert.equal(mp.live_paths, 3);
      assert.equal(mp.schedule, "raptorq");
      assert.equal(mp.fec_overhead, 0.55);
    } finally {
      await alice.close();
    }
  });
});
