/**
 * Security regressions of pairing: a code dies with the device that issued it.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromHex, publicFromSeed } from "../src/crypto/mod.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("security: a pairing code issued by a since-revoked device cannot be claimed", async () => {
  const srv = await startTestServer();
  try {
    const stolen = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, stolen));
    // The owner pairs a second device with a first code.
    const first = await api(srv, "POST", "/api/pair", { as: a });
    const claim = await api(srv, "POST", "/api/pair/claim", {
      json: { pair_code: first.body!.pair_code },
    });
    assert.equal(claim.status, 200, claim.text);
    const cert = /"device_certificate":(\{[^{}]*\})/.exec(claim.text)![1];
    const seed = fromHex(String(claim.body!.private_key), 32);
    const owner = await CommuCatClient.connect(connectOptions(srv, {
      deviceId: String(claim.body!.device_id),
      privateKey: seed,
      publicKey: publicFromSeed(seed),
      handle: stolen.handle,
    }, { certificate: cert }));
    // Whoever holds the stolen device issues a code, then the owner revokes that device.
    const planted = await api(srv, "POST", "/api/pair", { as: a });
    assert.equal(planted.status, 200, planted.text);
    const revoked = await api(srv, "POST", "/api/devices/revoke", {
      as: owner,
      json: { device_id: stolen.deviceId },
    });
    assert.equal(revoked.status, 200, revoked.text);
    // The code must not mint a new device for the user.
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: planted.body!.pair_code } }),
      400,
      "pairing code invalid or expired",
    );
    const devices = await srv.server.store.listDevicesForUser(owner.session.userId);
    assert.equal(devices.filter((d) => d.status === "active").length, 1, "only the owner's device");
    a.close();
    owner.close();
    await Promise.all([a.finished, owner.finished]);
  } finally {
    await srv.stop();
  }
});
