import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromHex, parseCertificate, publicFromSeed, verifyCertificate } from "../src/crypto/mod.ts";
import { connectOptions } from "../tests/helpers/devices.ts";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import {
  AdminError,
  diagnose,
  listDevices,
  listUsers,
  printDiagnosis,
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

Deno.test("admin: diagnose fails on a bare data dir and passes once the server has run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-diagnose-" });
  try {
    const configPath = `${dir}/commucat.toml`;
    await Deno.writeTextFile(configPath, `[server]\ndata_dir = "${dir}/var"\n`);
    const before = await diagnose(configPath);
    const failed = before.filter((c) => !c.ok).map((c) => c.name);
    assert.deepEqual(failed, ["device CA key", "noise static key", "storage", "tls certificate"]);
    const out = capture();
    assert.equal(printDiagnosis(before, out.io), 1);
    assert.match(out.text(), /4 check\(s\) failed/);

    const srv = await startTestServer({
      dataDir: `${dir}/var`,
      sqlitePath: `${dir}/var/commucat.db`,
    });
    await srv.stop();
    const after = await diagnose(configPath);
    assert.deepEqual(after.filter((c) => !c.ok), [], JSON.stringify(after));
    assert.equal(printDiagnosis(after, capture().io), 0);
    assert.equal(
      after.find((c) => c.name === "storage")?.detail,
      "sqlite reachable, integrity_check ok, migrations current",
    );

    const broken = `${dir}/broken.toml`;
    await Deno.writeTextFile(broken, `[server]\nno_such_key = 1\n`);
    const bad = await diagnose(broken);
    assert.equal(bad.length, 1);
    assert.equal(bad[0].ok, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("admin: diagnose looks up the pluggable transport's binary without running it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-diagnose-pt-" });
  try {
    const fake = `${dir}/fake-pt`;
    await Deno.writeTextFile(fake, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const check = async (binary: string) => {
      const configPath = `${dir}/commucat.toml`;
      await Deno.writeTextFile(
        configPath,
        `[server]\ndata_dir = "${dir}/var"\n[transport.pt]\nbind = "127.0.0.1:9443"\n` +
          `binary = "${binary}"\n`,
      );
      return (await diagnose(configPath)).find((c) => c.name === "pluggable transport")!;
    };
    const found = await check(fake);
    assert.equal(found.ok, true);
    assert.match(found.detail, new RegExp(`^obfs4 via ${fake} \\(serve needs --allow-run=`));
    const missing = await check(`${dir}/no-such-pt`);
    assert.equal(missing.ok, false);
    assert.match(missing.detail, /^transport\.pt\.binary: .*no-such-pt not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
