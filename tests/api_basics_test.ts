/**
 * The REST API's common ground against an in-process server: server-info,
 * unknown paths and methods, body limits, avatars and uploads, and the
 * admin-only security stats.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { avatarHash } from "../src/api/mod.ts";
import { toHex } from "../src/crypto/mod.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import type { ServerSettings } from "../src/server/mod.ts";

async function withServer(
  settings: Partial<ServerSettings>,
  fn: (srv: TestServer) => Promise<void>,
): Promise<void> {
  const srv = await startTestServer(settings);
  try {
    await fn(srv);
  } finally {
    await srv.stop();
  }
}

Deno.test("server-info: upstream shape plus pairing ttl, rotation and post-quantum", async () => {
  await withServer({ pairingTtlSeconds: 120 }, async (srv) => {
    const r = await api(srv, "GET", "/api/server-info");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("cache-control"), "no-store");
    const body = r.body!;
    assert.equal(body.domain, srv.domain);
    assert.equal(body.noise_public, toHex(srv.noisePublic));
    assert.equal(body.device_ca_public, toHex(srv.server.keys.ca.publicKey));
    assert.equal((body.noise_keys as unknown[]).length, 1);
    assert.deepEqual(body.pairing, { auto_approve: true, max_auto_devices: 1, pairing_ttl: 120 });
    assert.deepEqual(body.device_rotation, {
      enabled: true,
      min_interval_seconds: 86_400,
      proof_ttl_seconds: 600,
    });
    assert.deepEqual(body.post_quantum, {
      enabled: true,
      policy: "prefer",
      kem_algorithm: "ML-KEM-768",
      kem_public_hex: null,
      signature_algorithm: "ML-DSA-65",
      signing_public: toHex(srv.server.noiseKey().pqSigning!.publicKey),
      patterns: ["XKhfs", "IKhfs"],
    });
    assert.deepEqual(body.presence, { ttl_seconds: 30 });
    assert.deepEqual(body.session, { keepalive_interval: 30, ttl_seconds: 60 });
    assert.deepEqual(body.supported_patterns, ["XK", "IK", "XKhfs", "IKhfs"]);
    assert.deepEqual(body.supported_versions, [1]);

    const post = await api(srv, "POST", "/api/server-info");
    assertProblem(post, 405, "use GET, HEAD");
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assertProblem(await api(srv, "GET", "/api/nothing-here"), 404, "resource not found");
    assertProblem(await api(srv, "GET", "/"), 404);
    // The paths the server keeps for itself still answer.
    assert.equal((await api(srv, "GET", "/healthz")).status, 200);
  });
});

Deno.test("bodies over 10 MiB are refused before they are read in full", async () => {
  await withServer({}, async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const big = new Uint8Array(10 * 1024 * 1024 + 1).fill(0x20);
    assertProblem(
      await api(srv, "PUT", "/api/friends", { as: a, body: big }),
      413,
      "request body too large (max 10 MiB)",
    );
    // Streamed without a length: the cap holds too.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 11; i++) controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
        controller.close();
      },
    });
    assertProblem(
      await api(srv, "PUT", "/api/friends", { as: a, body: stream }),
      413,
      "request body too large (max 10 MiB)",
    );
    a.close();
  });
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);

Deno.test("avatar upload: stored under a per-user content hash, served immutable, profile updated", async () => {
  await withServer({}, async (srv) => {
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    const up = await api(srv, "POST", "/api/users/me/avatar", {
      as: a,
      body: PNG,
      headers: { "content-type": "image/png; charset=binary" },
    });
    assert.equal(up.status, 200, up.text);
    const filename = `${avatarHash(a.session.userId, PNG)}.png`;
    assert.deepEqual(up.body, {
      avatar_url: `https://${srv.domain}/uploads/${filename}`,
      filename,
    });
    assert.equal(
      (await srv.server.store.getUser(a.session.userId))?.avatarUrl,
      up.body!.avatar_url,
    );
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    try {
      const got = await fetch(`${srv.url}/uploads/${filename}`, { client });
      assert.equal(got.status, 200);
      assert.equal(got.headers.get("content-type"), "image/png");
      assert.equal(got.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(got.headers.get("x-content-type-options"), "nosniff");
      assert.deepEqual(new Uint8Array(await got.arrayBuffer()), PNG);
    } finally {
      client.close();
    }
    // Friends see the new avatar in the profile snapshot of a friend request.
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice("bob")));
    const sent = await api(srv, "POST", `/api/friends/requests/${a.session.userId}`, { as: b });
    assert.equal((sent.body!.to_user as Record<string, unknown>).avatar_url, up.body!.avatar_url);
    a.close();
    b.close();
  });
});

Deno.test("avatar upload and uploads: errors", async () => {
  await withServer({}, async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const upload = (body: BodyInit, type?: string) =>
      api(srv, "POST", "/api/users/me/avatar", {
        as: a,
        body,
        headers: type ? { "content-type": type } : {},
      });
    assertProblem(
      await upload(PNG, "image/bmp"),
      400,
      "invalid image type 'image/bmp' (allowed: jpeg, png, webp, gif)",
    );
    // No image/* content type: JPEG is assumed, and a PNG body does not match it.
    assertProblem(
      await upload(PNG, "application/octet-stream"),
      400,
      "avatar content is not a jpeg image",
    );
    assertProblem(await upload(new Uint8Array(0), "image/png"), 400, "avatar body is empty");
    assertProblem(
      await upload(new Uint8Array(5 * 1024 * 1024 + 1), "image/png"),
      413,
      "avatar file too large (max 5 MB)",
    );
    assertProblem(await api(srv, "POST", "/api/users/me/avatar", { body: PNG }), 401);
    const jpeg = await upload(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9, 9]));
    assert.equal(jpeg.status, 200, jpeg.text);
    assert.match(String(jpeg.body!.filename), /^[0-9a-f]{16}\.jpg$/);

    assertProblem(await api(srv, "GET", "/uploads/..%2F..%2Fcommucat.db"), 403, "forbidden");
    assertProblem(await api(srv, "GET", "/uploads/a%5Cb.png"), 403, "forbidden");
    assertProblem(await api(srv, "GET", "/uploads/0123456789abcdef.png"), 404, "not found");
    assertProblem(await api(srv, "GET", "/uploads/commucat.db"), 404, "not found");
    assertProblem(await api(srv, "DELETE", `/uploads/${jpeg.body!.filename}`), 405);
    a.close();
  });
});

Deno.test("security-stats: admin token only", async () => {
  await withServer({ adminToken: "admin-secret-token" }, async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    assertProblem(
      await api(srv, "GET", "/api/security-stats"),
      401,
      "missing Authorization header",
    );
    assertProblem(
      await api(srv, "GET", "/api/security-stats", { as: a }),
      401,
      "invalid admin token",
    );
    const ok = await api(srv, "GET", "/api/security-stats", { as: "admin-secret-token" });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(Object.keys(ok.body!).sort(), [
      "average_paths",
      "censorship_deflections",
      "fec_packets",
      "multipath_sessions",
      "noise_handshakes",
      "pq_handshakes",
    ]);
    assert.equal(ok.body!.noise_handshakes, 1);
    a.close();
  });
  await withServer({}, async (srv) => {
    assertProblem(
      await api(srv, "GET", "/api/security-stats", { as: "anything" }),
      401,
      "invalid admin token",
    );
  });
});
