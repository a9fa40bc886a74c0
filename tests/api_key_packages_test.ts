/**
 * The MLS key directory over REST: a device uploads KeyPackages bound to it
 * (ts-mls generates them), friends take them one at a time, everyone else
 * sees nothing; bad input of every kind is a problem+json refusal.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { deviceKeyFingerprint, toHex } from "../src/crypto/mod.ts";
import { decodeBase64, encodeBase64 } from "../src/proto/mod.ts";
import { pairDevice } from "./helpers/pairing.ts";
import { api, assertProblem, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { keyPackageFor, keyPackageOf, suite, uploadEntry } from "./helpers/mls.ts";

const UPLOAD = "/api/e2e/key-packages";

Deno.test("key packages: uploaded bound to the device, taken once each by friends, last resort kept", async () => {
  const srv = await startTestServer();
  const [aliceDevice, bobDevice, carolDevice] = [newDevice("a"), newDevice("b"), newDevice("c")];
  const alice = await CommuCatClient.connect(connectOptions(srv, aliceDevice));
  const bob = await CommuCatClient.connect(connectOptions(srv, bobDevice));
  const carol = await CommuCatClient.connect(connectOptions(srv, carolDevice));
  try {
    const cs = await suite();
    const packages = await Promise.all([1, 2].map(() => keyPackageFor(cs, aliceDevice.deviceId)));
    const lastResort = await keyPackageFor(cs, aliceDevice.deviceId);
    const up = await api(srv, "POST", UPLOAD, {
      as: alice,
      json: {
        key_packages: [
          ...packages.map((p) => uploadEntry(aliceDevice, p.bytes)),
          uploadEntry(aliceDevice, lastResort.bytes, true),
        ],
      },
    });
    assert.equal(up.status, 201, up.text);
    assert.deepEqual(up.body, { stored: 3, available: 2, last_resort: true });
    const resent = await api(srv, "POST", UPLOAD, {
      as: alice,
      json: { key_packages: [uploadEntry(aliceDevice, packages[0].bytes)] },
    });
    assert.deepEqual(resent.body, { stored: 0, available: 2, last_resort: true }, "idempotent");

    const take = `/api/e2e/key-packages/${aliceDevice.deviceId}`;
    const devices = `/api/e2e/devices/${alice.session.userId}`;
    // Not friends: nothing, and no hint the device exists.
    assertProblem(
      await api(srv, "GET", take, { as: bob }),
      404,
      "no key package available for this device",
    );
    assertProblem(await api(srv, "GET", devices, { as: bob }), 404, "user not found");
    await befriend(srv, alice, bob);

    const listed = await api(srv, "GET", devices, { as: bob });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.body?.devices, [{
      device_id: aliceDevice.deviceId,
      public_key: toHex(aliceDevice.publicKey),
      fingerprint: toHex(deviceKeyFingerprint(aliceDevice.publicKey)),
      created_at: (listed.body?.devices as { created_at: string }[])[0].created_at,
      key_packages: { one_time: 2, last_resort: true },
    }]);

    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await api(srv, "GET", take, { as: bob });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body?.last_resort, false);
      assert.equal(r.body?.device_public, toHex(aliceDevice.publicKey));
      assert.equal(r.body?.cipher_suite, 1);
      got.push(String(r.body?.key_package));
      // What a client checks: the device key's signature, and the credential.
      const bytes = decodeBase64(String(r.body?.key_package));
      const kp = keyPackageOf(bytes);
      assert.equal(
        new TextDecoder().decode(
          (kp.leafNode.credential as { identity: Uint8Array }).identity,
        ),
        aliceDevice.deviceId,
      );
    }
    assert.deepEqual(
      got.sort(),
      packages.map((p) => encodeBase64(p.bytes)).sort(),
      "each one-time package handed out once",
    );
    for (let i = 0; i < 2; i++) {
      const r = await api(srv, "GET", take, { as: bob });
      assert.equal(r.body?.last_resort, true);
      assert.equal(r.body?.key_package, encodeBase64(lastResort.bytes));
    }
    const after = await api(srv, "GET", devices, { as: alice });
    assert.deepEqual(
      (after.body?.devices as { key_packages: unknown }[])[0].key_packages,
      { one_time: 0, last_resort: true },
    );
    assertProblem(await api(srv, "GET", take, { as: carol }), 404);
    assertProblem(await api(srv, "GET", "/api/e2e/key-packages/nope", { as: bob }), 404);
    assertProblem(await api(srv, "GET", take), 401);
  } finally {
    for (const c of [alice, bob, carol]) c.close();
    await srv.stop();
  }
});

Deno.test("key packages: another device's package or signature, oversized, malformed → refused", async () => {
  const srv = await startTestServer();
  const device = newDevice("x");
  const other = newDevice("y");
  const client = await CommuCatClient.connect(connectOptions(srv, device));
  try {
    const cs = await suite();
    const own = await keyPackageFor(cs, device.deviceId);
    const post = (entries: unknown[]) =>
      api(srv, "POST", UPLOAD, { as: client, json: { key_packages: entries } });

    // Signed by another device's key (a package the other device made for itself, or ours).
    const theirs = await keyPackageFor(cs, other.deviceId);
    assertProblem(
      await post([uploadEntry(other, theirs.bytes)]),
      400,
      `key_packages.0.data: credential is not this device's: expected a basic credential with identity "${device.deviceId}"`,
    );
    assertProblem(
      await post([uploadEntry(other, own.bytes)]),
      400,
      "key_packages.0.signature: not this device key's signature over the key package",
    );
    // The device key signed it, but for another device id.
    assertProblem(
      await post([
        uploadEntry({ deviceId: other.deviceId, privateKey: device.privateKey }, own.bytes),
      ]),
      400,
      "key_packages.0.signature: not this device key's signature over the key package",
    );
    // A KeyPackage whose own MLS signature is broken (one byte of the signature flipped).
    const broken = own.bytes.slice();
    broken[broken.length - 3] ^= 1;
    assertProblem(
      await post([uploadEntry(device, broken)]),
      400,
      "key_packages.0.data: KeyPackage or leaf node signature does not verify",
    );
    // Malformed.
    assertProblem(
      await post([uploadEntry(device, own.bytes.subarray(0, 40))]),
      400,
    );
    const garbage = await post([uploadEntry(device, new Uint8Array([0, 1, 0, 1, 9, 9]))]);
    assertProblem(garbage, 400);
    assert.match(String(garbage.body?.detail), /^key_packages\.0\.data: malformed KeyPackage: /);
    assertProblem(
      await post([{ data: "***", signature: "" }]),
      400,
      "key_packages.0.data: expected standard base64",
    );
    assertProblem(await post([]), 400);
    assertProblem(
      await post([uploadEntry(device, own.bytes, true), uploadEntry(device, own.bytes, true)]),
      400,
      "key_packages: at most one last_resort package per upload",
    );
    // Oversized.
    const huge = new Uint8Array(40_000);
    assertProblem(
      await post([uploadEntry(device, huge)]),
      413,
      "key_packages.0.data: key package too large (max 32768 bytes)",
    );
    // Expired lifetime.
    const expired = await keyPackageFor(cs, device.deviceId, { notBefore: 0n, notAfter: 1000n });
    assertProblem(
      await post([uploadEntry(device, expired.bytes)]),
      400,
      "key_packages.0.data: lifetime expired",
    );
    // Nothing of the above was stored; a valid one still is.
    const ok = await post([uploadEntry(device, own.bytes)]);
    assert.deepEqual(ok.body, { stored: 1, available: 1, last_resort: false });
    assertProblem(await api(srv, "POST", UPLOAD, { json: { key_packages: [] } }), 401);
  } finally {
    client.close();
    await srv.stop();
  }
});

Deno.test("welcome: only an MLS Welcome, only to a reachable device, delivered as a Msg", async () => {
  const srv = await startTestServer();
  const [aliceDevice, bobDevice, carolDevice] = [newDevice("a"), newDevice("b"), newDevice("c")];
  const alice = await CommuCatClient.connect(connectOptions(srv, aliceDevice));
  const bob = await CommuCatClient.connect(connectOptions(srv, bobDevice));
  const carol = await CommuCatClient.connect(connectOptions(srv, carolDevice));
  try {
    const send = (as: CommuCatClient, body: unknown) =>
      api(srv, "POST", "/api/e2e/welcome", { as, json: body });
    const welcome = new Uint8Array([0, 1, 0, 3, 9, 9, 9]);
    const body = { device_id: bobDevice.deviceId, channel: 77, welcome: encodeBase64(welcome) };
    assertProblem(await send(carol, body), 404, "device not found");
    await befriend(srv, alice, bob);
    assertProblem(
      await send(alice, { ...body, welcome: encodeBase64(new Uint8Array([0, 1, 0, 2, 9])) }),
      400,
      "welcome: not an MLSMessage carrying a Welcome",
    );
    assertProblem(
      await send(alice, { ...body, welcome: encodeBase64(new Uint8Array(70_000)) }),
      413,
    );
    const sent = await send(alice, body);
    assert.equal(sent.status, 202, sent.text);
    assert.deepEqual(sent.body, { device_id: bobDevice.deviceId, channel: 77 });
    const frame = await bob.next();
    assert.equal(frame?.channel, 77);
    assert.deepEqual(frame?.payload, welcome);
  } finally {
    for (const c of [alice, bob, carol]) c.close();
    await srv.stop();
  }
});

Deno.test("key packages: the own user's other device takes one; revoking a device deletes its packages", async () => {
  const srv = await startTestServer();
  const device = newDevice("own");
  const first = await CommuCatClient.connect(connectOptions(srv, device));
  const { device: secondDevice } = await pairDevice(srv, first);
  const second = await CommuCatClient.connect(connectOptions(srv, secondDevice));
  try {
    const cs = await suite();
    const up = await api(srv, "POST", UPLOAD, {
      as: second,
      json: {
        key_packages: [
          uploadEntry(secondDevice, (await keyPackageFor(cs, secondDevice.deviceId)).bytes),
          uploadEntry(secondDevice, (await keyPackageFor(cs, secondDevice.deviceId)).bytes),
        ],
      },
    });
    assert.equal(up.status, 201, up.text);
    const take = `/api/e2e/key-packages/${secondDevice.deviceId}`;
    assert.equal((await api(srv, "GET", take, { as: first })).status, 200, "own user's device");
    const listed = await api(srv, "GET", `/api/e2e/devices/${first.session.userId}`, { as: first });
    assert.deepEqual(
      (listed.body?.devices as { device_id: string; key_packages: unknown }[])
        .find((d) => d.device_id === secondDevice.deviceId)?.key_packages,
      { one_time: 1, last_resort: false },
    );
    const revoked = await api(srv, "POST", "/api/devices/revoke", {
      as: first,
      json: { device_id: secondDevice.deviceId },
    });
    assert.equal(revoked.status, 200, revoked.text);
    assertProblem(await api(srv, "GET", take, { as: first }), 404);
    const stock = await srv.server.store.keyPackageStock([secondDevice.deviceId], new Date());
    assert.deepEqual(stock.get(secondDevice.deviceId), { oneTime: 0, lastResort: false });
  } finally {
    first.close();
    second.close();
    await srv.stop();
  }
});
