/**
 * Post-quantum hybrid handshakes over real HTTPS: server-info advertises the
 * hybrids and the ML-DSA-65 key, the SDK uses a hybrid when the key is pinned
 * and refuses a wrong pin, and `crypto.pq` decides what the server accepts.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { fromHex, toHex } from "../src/crypto/mod.ts";
import { pqSuite } from "../src/crypto/pq/mod.ts";
import { api } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

async function serverInfo(srv: { url: string; certificatePem: string }) {
  const http = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    return await (await fetch(`${srv.url}/api/server-info`, { client: http })).json();
  } finally {
    http.close();
  }
}

Deno.test("pq e2e: server-info offers the hybrids; a pinned SDK uses them for XK and IK", async () => {
  const srv = await startTestServer({ adminToken: "pq-admin-token" });
  try {
    const info = await serverInfo(srv);
    assert.deepEqual(info.post_quantum.patterns, ["XKhfs", "IKhfs"]);
    assert.equal(info.post_quantum.policy, "prefer");
    assert.equal(info.post_quantum.signature_algorithm, "ML-DSA-65");
    const pinned = fromHex(info.post_quantum.signing_public);
    assert.equal(info.noise_keys[0].pq_signing_public, info.post_quantum.signing_public);
    assert.equal(toHex(pinned), toHex(srv.server.noiseKey().pqSigning!.publicKey));
    const before = (await serverInfo(srv)).noise_public;
    for (const pattern of ["XK", "IK"]) {
      const client = await CommuCatClient.connect(
        connectOptions(srv, newDevice(pattern.toLowerCase()), { pattern, serverPqPublic: pinned }),
      );
      assert.ok(client.session.sessionId);
      client.close();
    }
    assert.equal((await serverInfo(srv)).noise_public, before);
    // Counted apart: /api/security-stats pq_handshakes (and commucat_security_pq_total).
    const classical = await CommuCatClient.connect(connectOptions(srv, newDevice("classic")));
    classical.close();
    const stats = await api(srv, "GET", "/api/security-stats", { as: "pq-admin-token" });
    assert.equal(stats.body?.noise_handshakes, 3);
    assert.equal(stats.body?.pq_handshakes, 2);
  } finally {
    await srv.stop();
  }
});

Deno.test("pq e2e: a wrong pinned ML-DSA key is refused by the client", async () => {
  const srv = await startTestServer();
  try {
    const wrong = (await pqSuite().signer.generateKeyPair()).publicKey;
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, newDevice(), { serverPqPublic: wrong })),
      /does not match the pinned key/,
    );
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, newDevice(), { pq: "require" })),
      /needs the server's pinned ML-DSA-65 key/,
    );
  } finally {
    await srv.stop();
  }
});

Deno.test("pq e2e: crypto.pq = require refuses classical clients with a clear Error", async () => {
  const srv = await startTestServer({ pq: "require" });
  try {
    const info = await serverInfo(srv);
    assert.deepEqual(info.supported_patterns, ["XKhfs", "IKhfs"]);
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, newDevice())),
      (error: unknown) =>
        error instanceof ServerError && /crypto\.pq = "require"/.test(String(error.body.detail)),
    );
    const client = await CommuCatClient.connect(
      connectOptions(srv, newDevice(), {
        serverPqPublic: fromHex(info.post_quantum.signing_public),
      }),
    );
    client.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("pq e2e: crypto.pq = off advertises no PQ and refuses hybrid Hellos", async () => {
  const srv = await startTestServer({ pq: "off" });
  try {
    const info = await serverInfo(srv);
    assert.equal(info.post_quantum.enabled, false);
    assert.equal(info.post_quantum.signing_public, null);
    assert.deepEqual(info.supported_patterns, ["XK", "IK"]);
    const pinned = srv.server.noiseKey().pqSigning!.publicKey;
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, newDevice(), { serverPqPublic: pinned })),
      (error: unknown) => error instanceof ServerError && /crypto\.pq = "off"/.test(error.message),
    );
  } finally {
    await srv.stop();
  }
});

Deno.test("pq e2e: a flood of hybrid Hellos is cut at the CPU share; classical ones still pass", async () => {
  // 1 % of a core: a burst of 10 ms of hybrid work (~1 ms a reply here), refilled at 10 ms/s.
  const srv = await startTestServer({ pqHandshakeCpuPercent: 1 });
  try {
    const pinned = srv.server.noiseKey().pqSigning!.publicKey;
    const results = await Promise.allSettled(
      Array.from(
        { length: 60 },
        () =>
          CommuCatClient.connect(
            connectOptions(srv, newDevice("flood"), { serverPqPublic: pinned }),
          ),
      ),
    );
    const refused = results.filter((r) =>
      r.status === "rejected" && r.reason instanceof ServerError &&
      /too many post-quantum handshakes right now \(server\.pq_handshake_cpu_percent\)/.test(
        String(r.reason.body.detail),
      )
    );
    for (const r of results) if (r.status === "fulfilled") r.value.close();
    assert.ok(refused.length > 0, "some hybrid Hellos were refused");
    assert.ok(results.some((r) => r.status === "fulfilled"), "the budget admits some");
    assert.equal(
      refused.length + results.filter((r) => r.status === "fulfilled").length,
      60,
      "refusals are pq_busy, nothing else",
    );
    const classical = await CommuCatClient.connect(connectOptions(srv, newDevice("classic")));
    classical.close();
  } finally {
    await srv.stop();
  }
});
