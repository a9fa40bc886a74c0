/**
 * Device post-quantum keys over REST: a device publishes its ML-KEM-768 and
 * ML-DSA-65 public keys signed by its Ed25519 device key; its own user and
 * mutual friends read them, nobody else.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { signDevicePqKeys, toHex } from "../src/crypto/mod.ts";
import { pqSuite } from "../src/crypto/pq/mod.ts";
import { api, assertProblem, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

async function pqBody(device: TestDevice) {
  const { kem, signer } = pqSuite();
  const kemPublic = (await kem.generateKeyPair()).publicKey;
  const signaturePublic = (await signer.generateKeyPair()).publicKey;
  return {
    kem_public: toHex(kemPublic),
    signature_public: toHex(signaturePublic),
    signature: toHex(
      signDevicePqKeys(device.privateKey, device.deviceId, kemPublic, signaturePublic),
    ),
  };
}

Deno.test("device pq keys: published signed, read by the owner and mutual friends only", async () => {
  const srv = await startTestServer();
  const [aliceDevice, bobDevice, carolDevice] = [newDevice("a"), newDevice("b"), newDevice("c")];
  const alice = await CommuCatClient.connect(connectOptions(srv, aliceDevice));
  const bob = await CommuCatClient.connect(connectOptions(srv, bobDevice));
  const carol = await CommuCatClient.connect(connectOptions(srv, carolDevice));
  try {
    const path = `/api/devices/${aliceDevice.deviceId}/pq-keys`;
    assertProblem(await api(srv, "GET", path, { as: alice }), 404);
    const body = await pqBody(aliceDevice);
    const put = await api(srv, "PUT", "/api/devices/pq-keys", { as: alice, json: body });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body?.kem_public, body.kem_public);
    assert.equal(put.body?.device_public, toHex(aliceDevice.publicKey));

    const own = await api(srv, "GET", path, { as: alice });
    assert.equal(own.status, 200);
    assert.equal(own.body?.signature_public, body.signature_public);
    assert.equal(own.body?.signature, body.signature);

    assertProblem(
      await api(srv, "GET", path, { as: bob }),
      404,
      "device not found, or it published no post-quantum keys",
    );
    await befriend(srv, alice, bob);
    const friend = await api(srv, "GET", path, { as: bob });
    assert.equal(friend.status, 200, friend.text);
    assert.equal(friend.body?.kem_public, body.kem_public);
    assertProblem(
      await api(srv, "GET", path, { as: carol }),
      404,
      "device not found, or it published no post-quantum keys",
    );
    assertProblem(await api(srv, "GET", "/api/devices/no-such-device/pq-keys", { as: bob }), 404);

    // Replaced, not added.
    const again = await pqBody(aliceDevice);
    assert.equal(
      (await api(srv, "PUT", "/api/devices/pq-keys", { as: alice, json: again })).status,
      200,
    );
    assert.equal((await api(srv, "GET", path, { as: bob })).body?.kem_public, again.kem_public);
  } finally {
    for (const c of [alice, bob, carol]) c.close();
    await srv.stop();
  }
});

Deno.test("device pq keys: bad input is a 400 naming the field; another device's signature is refused", async () => {
  const srv = await startTestServer();
  const device = newDevice("x");
  const other = newDevice("y");
  const client = await CommuCatClient.connect(connectOptions(srv, device));
  try {
    const body = await pqBody(device);
    const put = (json: unknown) => api(srv, "PUT", "/api/devices/pq-keys", { as: client, json });
    assertProblem(
      await put({ ...body, kem_public: body.kem_public.slice(2) }),
      400,
      "kem_public: expected 1184 bytes as hex",
    );
    assertProblem(
      await put({ ...body, signature_public: "zz" }),
      400,
      "signature_public: expected 1952 bytes as hex",
    );
    assertProblem(await put({ ...body, signature: undefined }), 400);
    const foreign = await pqBody(other); // signed by another device key
    assertProblem(
      await put(foreign),
      400,
      "signature: not the device key's signature over these keys",
    );
    const flipped = body.signature.slice(0, 10) + (body.signature[10] === "0" ? "1" : "0") +
      body.signature.slice(11);
    assertProblem(
      await put({ ...body, signature: flipped }),
      400,
      "signature: not the device key's signature over these keys",
    );
    assertProblem(await api(srv, "PUT", "/api/devices/pq-keys", { json: body }), 401);
    assertProblem(
      await api(srv, "GET", `/api/devices/${device.deviceId}/pq-keys`, { as: client }),
      404,
    );
  } finally {
    client.close();
    await srv.stop();
  }
});
