/**
 * Security regressions of the handshake's identity decisions.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
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
  const srv = await startTestServer({
    deviceRotation: {
      enabled: true,
      minIntervalSeconds: 0,
      proofTtlSeconds: 600,
      notifyChannel: 0,
    },
  });
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
    const next = generateDeviceKeys();
    const expiresAt = Math.floor(Date.now() / 1000) + 300;
    const signature = signRotationProof(device.privateKey, {
      deviceId: device.deviceId,
      newPublicKey: next.publicKey,
      expiresAt,
    });
    const rotated = await api(srv, "POST", "/api/device/csr", {
      as: a,
      json: {
        public_key: toHex(next.publicKey),
        signature: toHex(signature),
        expires_at: new Date(expiresAt * 1000).toISOString(),
      },
    });
    assert.equal(rotated.status, 200, rotated.text);
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
