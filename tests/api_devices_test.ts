/**
 * Devices through the REST API: listing, revocation (and what it does to
 * live connections and tokens), and key rotation by CSR (upstream §5.5)
 * with its KeyUpdate notice, against an in-process server.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import {
  generateDeviceKeys,
  parseCertificate,
  signRotationProof,
  toHex,
  verifyCertificate,
} from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import type { ServerSettings } from "../src/server/mod.ts";
import { pairDevice } from "./helpers/pairing.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

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

/** Connects `device`, then pairs a second device of the same user; returns both clients. */
async function twoDevices(srv: TestServer, device: TestDevice) {
  const first = await CommuCatClient.connect(connectOptions(srv, device));
  const { device: secondDevice } = await pairDevice(srv, first);
  const second = await CommuCatClient.connect(connectOptions(srv, secondDevice));
  return { first, second, secondDevice };
}

const ROTATION_OPEN = {
  deviceRotation: { enabled: true, minIntervalSeconds: 0, proofTtlSeconds: 600, notifyChannel: 3 },
};

Deno.test("devices: list, revoke another device (its connection closes, its token dies)", async () => {
  await withServer({}, async (srv) => {
    const device = newDevice("alice");
    const { first, second, secondDevice } = await twoDevices(srv, device);
    const listed = await api(srv, "GET", "/api/devices", { as: first });
    assert.equal(listed.status, 200);
    const devices = listed.body!.devices as Record<string, unknown>[];
    assert.deepEqual(devices.map((d) => [d.device_id, d.current, d.status]), [
      [device.deviceId, true, "active"],
      [secondDevice.deviceId, false, "active"],
    ]);
    assert.equal(devices[0].public_key, toHex(device.publicKey));

    const stranger = await CommuCatClient.connect(connectOptions(srv, newDevice("eve")));
    const revoke = (as: CommuCatClient, json: unknown) =>
      api(srv, "POST", "/api/devices/revoke", { as, json });
    assertProblem(await revoke(first, {}), 400, "device_id is required");
    assertProblem(await revoke(first, { device_id: "  " }), 400, "device_id is required");
    assertProblem(await revoke(first, { device_id: 7 }), 400);
    assertProblem(
      await revoke(first, { device_id: device.deviceId }),
      409,
      "cannot revoke active session device",
    );
    assertProblem(await revoke(first, { device_id: "no-such-device" }), 404, "device not found");
    assertProblem(
      await revoke(stranger, { device_id: secondDevice.deviceId }),
      404,
      "device not found",
    );

    const token = second.session.sessionId;
    const done = await revoke(first, { device_id: secondDevice.deviceId });
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.body, { device_id: secondDevice.deviceId, status: "revoked" });
    await within(second.finished, "the revoked device's connection to close");
    assertProblem(
      await api(srv, "GET", "/api/devices", { as: token }),
      401,
      "session not found or expired",
    );
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, secondDevice)),
      "a revoked device cannot connect again",
    );
    assert.equal((await srv.server.store.getDevice(secondDevice.deviceId))?.status, "revoked");
    // Revoking again is idempotent.
    assert.equal((await revoke(first, { device_id: secondDevice.deviceId })).status, 200);
    first.close();
    stranger.close();
  });
});

Deno.test("devices: revoking another user's device answers exactly like an unknown device (no existence oracle)", async () => {
  await withServer({}, async (srv) => {
    const { first, second, secondDevice } = await twoDevices(srv, newDevice("alice"));
    const stranger = await CommuCatClient.connect(connectOptions(srv, newDevice("mallory")));
    const revoke = (device_id: string) =>
      api(srv, "POST", "/api/devices/revoke", { as: stranger, json: { device_id } });
    const unknown = await revoke("no-such-device");
    const foreign = await revoke(secondDevice.deviceId);
    assertProblem(unknown, 404, "device not found");
    // Same status, same body: the answer does not tell whether the id exists.
    assert.equal(foreign.status, unknown.status);
    assert.equal(foreign.text, unknown.text);
    assert.equal(foreign.headers.get("content-type"), unknown.headers.get("content-type"));
    // And the other user's device is untouched.
    assert.equal((await srv.server.store.getDevice(secondDevice.deviceId))?.status, "active");
    first.close();
    second.close();
    stranger.close();
  });
});

Deno.test("auth: revoked device with a live token → 403; expired session → 401; bad tokens → 401", async () => {
  await withServer({}, async (srv) => {
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    const store = srv.server.store;
    assertProblem(await api(srv, "GET", "/api/devices", {}), 401, "missing Authorization header");
    assertProblem(
      await api(srv, "GET", "/api/devices", { headers: { authorization: "Bearer " } }),
      401,
      "empty token provided",
    );
    assertProblem(
      await api(srv, "GET", "/api/devices", { as: "f".repeat(64) }),
      401,
      "session not found or expired",
    );
    // The bare token (no "Bearer ") is accepted, as upstream does.
    const bare = await api(srv, "GET", "/api/devices", {
      headers: { authorization: a.session.sessionId },
    });
    assert.equal(bare.status, 200);
    const unauthorized = await api(srv, "GET", "/api/devices", {});
    assert.match(unauthorized.headers.get("www-authenticate") ?? "", /^Bearer/);

    await store.putSession({
      sessionId: "e".repeat(64),
      userId: a.session.userId,
      deviceId: device.deviceId,
      tlsFingerprint: "",
      createdAt: new Date(Date.now() - 3_600_000),
      ttlSeconds: 60,
    });
    assertProblem(
      await api(srv, "GET", "/api/devices", { as: "e".repeat(64) }),
      401,
      "session expired, please reconnect",
    );

    // Revoked behind the API's back (as the admin CLI does): the token is refused with 403.
    await store.setDeviceStatus(device.deviceId, "revoked");
    assertProblem(await api(srv, "GET", "/api/devices", { as: a }), 403, "device is revoked");
    a.close();
  });
});

function csrBody(
  device: TestDevice,
  newPublic: Uint8Array,
  options: { expiresInSeconds?: number; nonce?: Uint8Array; signer?: Uint8Array } = {},
) {
  const expiresAt = Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 300);
  const signature = signRotationProof(options.signer ?? device.privateKey, {
    deviceId: device.deviceId,
    newPublicKey: newPublic,
    expiresAt,
    nonce: options.nonce,
  });
  const body: Record<string, unknown> = {
    public_key: toHex(newPublic),
    signature: toHex(signature),
    expires_at: new Date(expiresAt * 1000).toISOString(),
  };
  if (options.nonce) body.nonce = toHex(options.nonce);
  return body;
}

Deno.test("CSR rotation: key swapped, certificate issued, KeyUpdate pushed, new key connects", async () => {
  await withServer(ROTATION_OPEN, async (srv) => {
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    const next = generateDeviceKeys();
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const response = await api(srv, "POST", "/api/device/csr", {
      as: a,
      json: csrBody(device, next.publicKey, { nonce }),
    });
    assert.equal(response.status, 200, response.text);
    const r = response.body!;
    assert.equal(r.device_id, device.deviceId);
    assert.equal(r.user_id, a.session.userId);
    assert.equal(r.public_key, toHex(next.publicKey));
    assert.equal(r.old_public_key, toHex(device.publicKey));
    assert.match(String(r.rotation_id), /^[0-9a-f]{64}$/);
    const certText = /"certificate":(\{[^{}]*\})/.exec(response.text)![1];
    assert.deepEqual(
      verifyCertificate(parseCertificate(certText), {
        caPublic: srv.server.keys.ca.publicKey,
        now: Math.floor(Date.now() / 1000),
        deviceId: device.deviceId,
        publicKey: next.publicKey,
      }),
      { ok: true },
    );

    // The live connection hears about it on the configured channel.
    const notice = await within(a.next(), "the KeyUpdate");
    assert.equal(notice?.type, FrameType.KeyUpdate);
    assert.equal(notice?.channel, 3);
    const body = notice!.control as Record<string, unknown>;
    assert.equal(body.type, "device-key-rotated");
    assert.equal(body.public_key, toHex(next.publicKey));
    assert.equal(body.rotation_id, r.rotation_id);
    assert.equal((body.certificate as Record<string, unknown>).device_id, device.deviceId);

    const store = srv.server.store;
    assert.equal(toHex((await store.getDevice(device.deviceId))!.publicKey), toHex(next.publicKey));
    const audit = await store.listDeviceRotations(device.deviceId);
    assert.equal(audit.length, 1);
    assert.equal(toHex(audit[0].nonce!), toHex(nonce));
    a.close();
    await a.finished;

    // The old key is refused; the new one connects.
    await assert.rejects(CommuCatClient.connect(connectOptions(srv, device)));
    const rotated = { ...device, privateKey: next.privateKey, publicKey: next.publicKey };
    const again = await CommuCatClient.connect(connectOptions(srv, rotated));
    assert.equal(again.session.userId, r.user_id);

    // Rotating back to a key this device already had is a conflict (UNIQUE device/new key).
    const third = generateDeviceKeys();
    const toThird = await api(srv, "POST", "/api/device/csr", {
      as: again,
      json: csrBody(rotated, third.publicKey),
    });
    assert.equal(toThird.status, 200, toThird.text);
    const thirdDevice = { ...device, privateKey: third.privateKey, publicKey: third.publicKey };
    assertProblem(
      await api(srv, "POST", "/api/device/csr", {
        as: again,
        json: csrBody(thirdDevice, next.publicKey),
      }),
      409,
      "key already used by this device or changed concurrently",
    );
    again.close();
  });
});

Deno.test("CSR rotation: every 400 and 409", async () => {
  await withServer(ROTATION_OPEN, async (srv) => {
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    const next = generateDeviceKeys().publicKey;
    const csr = (json: unknown) => api(srv, "POST", "/api/device/csr", { as: a, json });
    const good = csrBody(device, next);
    assertProblem(
      await api(srv, "POST", "/api/device/csr", { as: a }),
      400,
      "request body is required",
    );
    assertProblem(await csr([1]), 400, "request body must be a JSON object");
    assertProblem(await csr({ ...good, public_key: "zz" }), 400, "invalid public_key");
    assertProblem(await csr({ ...good, public_key: "00".repeat(32) }), 400, "invalid public_key");
    assertProblem(await csr({ ...good, signature: "abc" }), 400, "invalid signature encoding");
    assertProblem(await csr({ ...good, expires_at: "tomorrow" }), 400, "invalid expires_at");
    assertProblem(await csr({ ...good, expires_at: 12 }), 400, "invalid expires_at");
    assertProblem(await csr(csrBody(device, next, { expiresInSeconds: -5 })), 400, "proof expired");
    assertProblem(
      await csr(csrBody(device, next, { expiresInSeconds: 3600 })),
      400,
      "expires_at exceeds proof_ttl",
    );
    assertProblem(await csr({ ...good, nonce: "0102" }), 400, "invalid nonce");
    assertProblem(await csr({ ...good, nonce: "xyz" }), 400, "invalid nonce");
    assertProblem(
      await csr(csrBody(device, next, { signer: generateDeviceKeys().privateKey })),
      400,
      "signature verification failed",
    );
    assertProblem(
      await csr({ ...good, nonce: "00".repeat(8) }),
      400,
      "signature verification failed", // the nonce is bound into the proof
    );
    assertProblem(await csr(csrBody(device, device.publicKey)), 409, "public key unchanged");
    assertProblem(await api(srv, "POST", "/api/device/csr", { json: good }), 401);
    assert.equal((await api(srv, "GET", "/api/device/csr", { as: a })).status, 405);
    assert.equal(
      toHex((await srv.server.store.getDevice(device.deviceId))!.publicKey),
      toHex(device.publicKey),
    );
    a.close();
  });
});

Deno.test("CSR rotation: interval not elapsed, and disabled → 404", async () => {
  await withServer({}, async (srv) => {
    // Default min_interval is a day; registration just recorded a key event.
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    assertProblem(
      await api(srv, "POST", "/api/device/csr", {
        as: a,
        json: csrBody(device, generateDeviceKeys().publicKey),
      }),
      409,
      "rotation interval not elapsed",
    );
    a.close();
  });
  await withServer({
    deviceRotation: {
      enabled: false,
      minIntervalSeconds: 0,
      proofTtlSeconds: 600,
      notifyChannel: 0,
    },
  }, async (srv) => {
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    assertProblem(
      await api(srv, "POST", "/api/device/csr", {
        as: a,
        json: csrBody(device, generateDeviceKeys().publicKey),
      }),
      404,
      "device key rotation is disabled",
    );
    const info = await api(srv, "GET", "/api/server-info");
    assert.deepEqual(info.body!.device_rotation, {
      enabled: false,
      min_interval_seconds: 0,
      proof_ttl_seconds: 600,
    });
    a.close();
  });
});

Deno.test("server-info: Noise key times are RFC 3339 with second precision (PROTOCOL.md §5)", async () => {
  await withServer({}, async (srv) => {
    const info = await api(srv, "GET", "/api/server-info");
    const keys = info.body!.noise_keys as Record<string, unknown>[];
    assert.ok(keys.length >= 1);
    const active = srv.server.noiseKey();
    for (const key of keys) {
      for (const field of ["valid_after", "rotates_at", "expires_at"]) {
        assert.match(String(key[field]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, field);
      }
    }
    // The same instant, cut to the second.
    assert.equal(
      Date.parse(String(keys[0].rotates_at)),
      Math.floor(active.rotatesAt.getTime() / 1000) * 1000,
    );
  });
});

Deno.test("a revoked device's routing is refused too", async () => {
  await withServer({}, async (srv) => {
    const device = newDevice("alice");
    const { first, secondDevice, second } = await twoDevices(srv, device);
    await first.join(80, [secondDevice.deviceId]);
    await api(srv, "POST", "/api/devices/revoke", {
      as: first,
      json: { device_id: secondDevice.deviceId },
    });
    await within(second.finished, "the close");
    await assert.rejects(
      first.join(81, [secondDevice.deviceId]),
      (e: unknown) => e instanceof ServerError && e.code === "forbidden",
    );
    first.close();
  });
});
