import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromHex, parseCertificate, publicFromSeed, verifyCertificate } from "../src/crypto/mod.ts";
import { connectOptions } from "../tests/helpers/devices.ts";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import {
  AdminError,
  listDevices,
  listUsers,
  registerUser,
  revokeDevice,
  rotateKeys,
} from "./admin.ts";

function capture() {
  let out = "";
  return {
    io: { write: (t: string) => void (out += t), error: (l: string) => void (out += l + "\n") },
    text: () => out,
    field: (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(out)?.[1],
  };
}

Deno.test("admin: register-user, rotate-keys; the issued device connects with its certificate", async () => {
  const srv = await startTestServer();
  try {
    const store = srv.server.store;
    const reg = capture();
    const user = await registerUser(store, srv.domain, "carol", { displayName: "Carol" }, reg.io);
    assert.equal(reg.field("user_id"), user.userId);
    assert.equal(reg.field("handle"), "carol");
    assert.equal(reg.field("display_name"), "Carol");
    await assert.rejects(registerUser(store, srv.domain, "carol", {}, capture().io), AdminError);

    const rot = capture();
    await rotateKeys(store, srv.server.keys.ca, {
      handle: "carol",
      device: "carol-phone",
      domain: srv.domain,
    }, rot.io);
    assert.equal(rot.field("device_id"), "carol-phone");
    const privateKey = fromHex(rot.field("private_key")!, 32);
    const certText = rot.field("certificate")!;
    const cert = parseCertificate(certText);
    assert.equal(cert.serial.toString(), rot.field("certificate_serial"));
    assert.deepEqual(
      verifyCertificate(cert, {
        caPublic: srv.server.keys.ca.publicKey,
        now: Math.floor(Date.now() / 1000),
        userId: user.userId,
        deviceId: "carol-phone",
        publicKey: publicFromSeed(privateKey),
      }),
      { ok: true },
    );
    const client = await CommuCatClient.connect(connectOptions(srv, {
      deviceId: "carol-phone",
      privateKey,
      publicKey: publicFromSeed(privateKey),
      handle: "carol",
    }, { certificate: certText }));
    assert.equal(client.session.userId, user.userId);
    client.close();
    await client.finished;

    // Re-keying the same device keeps it and changes its key.
    const again = capture();
    await rotateKeys(store, srv.server.keys.ca, {
      user: user.userId,
      device: "carol-phone",
      domain: srv.domain,
    }, again.io);
    assert.notEqual(again.field("public_key"), rot.field("public_key"));
    await assert.rejects(
      rotateKeys(store, srv.server.keys.ca, { domain: srv.domain }, capture().io),
      /exactly one of/,
    );
    await assert.rejects(
      rotateKeys(store, srv.server.keys.ca, { handle: "nobody", domain: srv.domain }, capture().io),
      /user not found/,
    );

    const users = capture();
    await listUsers(store, users.io);
    assert.match(users.text(), new RegExp(`${user.userId}  carol@${srv.domain}`));
    const devices = capture();
    await listDevices(store, user.userId, devices.io);
    assert.match(devices.text(), /carol-phone {2}active/);
    assert.match(devices.text(), /1 device\(s\)/);

    const revoked = capture();
    await revokeDevice(store, "carol-phone", revoked.io);
    assert.equal(revoked.field("status"), "revoked");
    assert.equal((await store.getDevice("carol-phone"))?.status, "revoked");
    await assert.rejects(revokeDevice(store, "nope", capture().io), AdminError);
  } finally {
    await srv.stop();
  }
});
