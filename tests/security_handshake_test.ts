/**
 * Security regressions of the handshake's identity decisions.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import {
  certificateToJson,
  generateDeviceKeys,
  issueCertificate,
  signRotationProof,
  toHex,
} from "../src/crypto/mod.ts";
import { api } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("security: an old certificate cannot roll a device back to a key it rotated away from", async () => {
  const srv = await startTestServer({ deviceRotation: ROTATION });
  try {
    const device = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    // The certificate the old key got at an earlier handshake (CA-signed, still unexpired).
    const oldCertificate = certificateToJson(issueCertificate({
      caSeed: srv.server.keys.ca.seed,
      userId: a.session.userId,
      deviceId: device.deviceId,
      publicKey: device.publicKey,
      now: Math.floor(Date.now() / 1000) - 60,
    }));
    // The owner rotates away from the (say, leaked) old key.
    const next = await rotateOverRest(srv, a, device);
    a.close();
    await a.finished;
    // Whoever holds the old key and its old certificate must not get the device back.
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, device, { certificate: oldCertificate })),
      /certificate/,
    );
    const stored = await srv.server.store.getDevice(device.deviceId);
    assert.equal(toHex(stored!.publicKey), toHex(next.publicKey), "the rotated key stays");
    // The owner, with the new key, still connects.
    const owner = await CommuCatClient.connect(
      connectOptions(srv, { ...device, privateKey: next.privateKey, publicKey: next.publicKey }),
    );
    owner.close();
    await owner.finished;
  } finally {
    await srv.stop();
  }
});

/** Rotates `device` to a fresh key over REST; returns the new keys. */
async function rotateOverRest(
  srv: Awaited<ReturnType<typeof startTestServer>>,
  client: CommuCatClient,
  device: ReturnType<typeof newDevice>,
) {
  const next = generateDeviceKeys();
  const expiresAt = Math.floor(Date.now() / 1000) + 300;
  const signature = signRotationProof(device.privateKey, {
    deviceId: device.deviceId,
    newPublicKey: next.publicKey,
    expiresAt,
  });
  const rotated = await api(srv, "POST", "/api/device/csr", {
    as: client,
    json: {
      public_key: toHex(next.publicKey),
      signature: toHex(signature),
      expires_at: new Date(expiresAt * 1000).toISOString(),
    },
  });
  assert.equal(rotated.status, 200, rotated.text);
  return next;
}

const ROTATION = { enabled: true, minIntervalSeconds: 0, proofTtlSeconds: 600, notifyChannel: 0 };

Deno.test("security: rotate K1→K2, then K1 with a certificate from the rotation's second → refused", async () => {
  const srv = await startTestServer({ deviceRotation: ROTATION });
  try {
    const device = newDevice("rollback");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    await rotateOverRest(srv, a, device);
    a.close();
    await a.finished;
    // K1's certificate from the very second of the rotation: what a client that connected
    // with K1 just before the rotation holds. Whole-second `>=` let it bring K1 back.
    const changedAt = (await srv.server.store.latestDeviceKeyEvent(device.deviceId))!.recordedAt;
    const sameSecond = certificateToJson(issueCertificate({
      caSeed: srv.server.keys.ca.seed,
      userId: a.session.userId,
      deviceId: device.deviceId,
      publicKey: device.publicKey,
      now: Math.floor(changedAt.getTime() / 1000),
    }));
    await assert.rejects(
      CommuCatClient.connect(connectOptions(srv, device, { certificate: sameSecond })),
      (error: Error) =>
        error instanceof ServerError && /predates the device's current key/.test(error.message),
    );
    const stored = await srv.server.store.getDevice(device.deviceId);
    assert.notEqual(toHex(stored!.publicKey), toHex(device.publicKey), "K1 did not come back");
  } finally {
    await srv.stop();
  }
});

Deno.test("security: a local device cannot register as `x@peer.domain` or with an empty id", async () => {
  const srv = await startTestServer();
  try {
    for (
      const [deviceId, detail] of [
        ["something@peer.domain", /^invalid hello: device_id: must not contain '@'/],
        ["", /^invalid hello: device_id: must not be empty/],
      ] as const
    ) {
      const device = { ...newDevice("spoof"), deviceId };
      const refused = await CommuCatClient.connect(connectOptions(srv, device)).then(
        () => null,
        (error) => error,
      );
      assert.ok(refused instanceof ServerError, `${JSON.stringify(deviceId)}: ${refused}`);
      assert.equal(refused.code, "handshake");
      assert.match(String(refused.body.detail), detail);
      assert.equal(await srv.server.store.getDevice(deviceId), null, "nothing registered");
      assert.equal(await srv.server.store.getUserByHandle(device.handle, srv.domain), null);
    }
  } finally {
    await srv.stop();
  }
});

Deno.test("security: `Bob`, `bob` + U+200B and `ＢＯＢ` do not register as separate users", async () => {
  const srv = await startTestServer();
  try {
    const first = { ...newDevice("bob"), handle: "Bob" };
    const bob = await CommuCatClient.connect(connectOptions(srv, first));
    assert.equal(
      bob.session.ack.user && (bob.session.ack.user as { handle: string }).handle,
      "bob",
    );
    bob.close();
    await bob.finished;
    const invisible = await CommuCatClient.connect(
      connectOptions(srv, { ...newDevice("bob2"), handle: "bob\u200b" }),
    ).then(() => null, (error) => error);
    assert.ok(invisible instanceof ServerError);
    assert.match(String(invisible.body.detail), /^invalid hello: user.handle: must not contain/);
    const lookalike = await CommuCatClient.connect(
      connectOptions(srv, { ...newDevice("bob3"), handle: "BOB" }),
    ).then(() => null, (error) => error);
    assert.ok(lookalike instanceof ServerError);
    assert.equal(lookalike.body.pairing_required, true);
    // REST finds the user by any form of the handle: a friend request to `BOB` reaches bob.
    const carol = await CommuCatClient.connect(connectOptions(srv, newDevice("carol")));
    const request = await api(
      srv,
      "POST",
      `/api/friends/requests/${encodeURIComponent("ＢＯＢ")}`,
      {
        as: carol,
        json: {},
      },
    );
    carol.close();
    await carol.finished;
    assert.equal(request.status, 201, request.text);
    assert.equal((request.body?.to_user as { user_id: string }).user_id, bob.session.userId);
  } finally {
    await srv.stop();
  }
});

Deno.test("security: a known device with another key gets an Error whose reason is key_mismatch", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice("km");
    const a = await CommuCatClient.connect(connectOptions(srv, device));
    a.close();
    await a.finished;
    const other = generateDeviceKeys();
    const refused = await CommuCatClient.connect(
      connectOptions(srv, { ...device, privateKey: other.privateKey, publicKey: other.publicKey }),
    ).then(() => null, (error) => error);
    assert.ok(refused instanceof ServerError);
    assert.equal(refused.body.error, "handshake");
    assert.equal(refused.body.reason, "key_mismatch");
    assert.match(String(refused.body.detail), /present a certificate for the new key/);
  } finally {
    await srv.stop();
  }
});
