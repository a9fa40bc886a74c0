/**
 * End-to-end encryption through a real server (in-process, TLS): devices publish key packages to
 * the key directory, open an MLS conversation on a channel, chat; a newly paired device is added
 * and cannot read what came before; a revoked device is removed and cannot read what follows; what
 * the server stores holds no plaintext.
 */
import assert from "node:assert/strict";
import type { CommuCatClient } from "../src/client/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { pairDevice } from "./helpers/pairing.ts";
import { attach, texts, until } from "./helpers/e2e.ts";
import { api, befriend } from "./helpers/api.ts";
import { newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("e2e through a server: chat, a paired device added, a revoked device removed, no plaintext stored", async () => {
  const srv = await startTestServer();
  const open: CommuCatClient[] = [];
  try {
    const alice = newDevice("alice");
    const bob = newDevice("bob");
    const a = await attach(srv, alice);
    const b = await attach(srv, bob);
    open.push(a.client, b.client);
    await befriend(srv, a.client, b.client);

    const CHANNEL = 41;
    await a.e2e.open(CHANNEL, [b.client.session.userId]);
    assert.equal((await until(b.e2e, "joined")).at(-1)?.kind, "joined");
    await a.e2e.send(CHANNEL, "top secret hello");
    assert.deepEqual(texts(await until(b.e2e, "message")), [`${alice.deviceId}:top secret hello`]);
    await b.e2e.send(CHANNEL, "secret reply");
    assert.deepEqual(texts(await until(a.e2e, "message")), [`${bob.deviceId}:secret reply`]);

    // Both see the same safety number; fingerprints are the directory's.
    assert.equal(
      await a.e2e.safetyNumber(b.client.session.userId),
      await b.e2e.safetyNumber(a.client.session.userId),
    );

    // bob pairs a second device (same user): alice, the committer, adds it on sync.
    const { device: bob2, certificate } = await pairDevice(srv, b.client);
    const b2 = await attach(srv, bob2, { certificate });
    open.push(b2.client);
    assert.equal(b2.client.session.userId, b.client.session.userId);
    await a.e2e.sync(CHANNEL, [b.client.session.userId]);
    assert.equal((await until(b.e2e, "membership")).at(-1)?.kind, "membership");
    assert.equal((await until(b2.e2e, "joined")).at(-1)?.kind, "joined");
    await a.e2e.send(CHANNEL, "hello both bobs");
    assert.deepEqual(texts(await until(b2.e2e, "message")), [`${alice.deviceId}:hello both bobs`]);
    assert.deepEqual(texts(await until(b.e2e, "message")), [`${alice.deviceId}:hello both bobs`]);

    // bob-2 is revoked: the next sync removes it; it cannot read what follows.
    b2.client.close();
    const revoked = await api(srv, "POST", "/api/devices/revoke", {
      as: b.client,
      json: { device_id: bob2.deviceId },
    });
    assert.ok(revoked.status < 300, `revoke: ${revoked.status} ${revoked.text}`);
    await a.e2e.sync(CHANNEL, [b.client.session.userId]);
    const removal = await until(b.e2e, "membership");
    const change = removal.find((e) => e.kind === "membership");
    assert.ok(change?.kind === "membership" && change.removed.includes(bob2.deviceId));
    await a.e2e.send(CHANNEL, "after revocation");
    assert.deepEqual(texts(await until(b.e2e, "message")), [`${alice.deviceId}:after revocation`]);
    assert.deepEqual(
      a.e2e.device.members(CHANNEL).map((m) => m.deviceId).sort(),
      [alice.deviceId, bob.deviceId].sort(),
    );

    // What the server stored for this conversation holds no plaintext: bob is offline now, so
    // what alice sends sits in bob's offline queue; scan every queued row's bytes.
    b.client.close();
    await b.client.finished;
    await a.e2e.send(CHANNEL, "queued secret words");
    const rows = await srv.server.store.loadOfflineQueue(bob.deviceId, {
      limit: 1000,
      now: new Date(),
    });
    assert.ok(rows.length > 0, "something was queued for bob");
    for (const row of rows) {
      const raw = new TextDecoder("latin1").decode(row.payload);
      for (const secret of ["queued secret", "top secret", "secret reply", "after revocation"]) {
        assert.ok(!raw.includes(secret), `plaintext "${secret}" in a stored row`);
      }
    }
  } finally {
    for (const c of open) c.close();
    await srv.stop();
  }
});

Deno.test("e2e through a server: a CCP group of three users (two not friends) chats end to end", async () => {
  const srv = await startTestServer();
  const open: CommuCatClient[] = [];
  try {
    const [ownerDevice, adminDevice, memberDevice] = [
      newDevice("owner"),
      newDevice("admin"),
      newDevice("member"),
    ];
    const owner = await attach(srv, ownerDevice);
    const admin = await attach(srv, adminDevice);
    const member = await attach(srv, memberDevice);
    open.push(owner.client, admin.client, member.client);
    // admin and member are friends of the owner only: they reach each other through the group.
    await befriend(srv, owner.client, admin.client);
    await befriend(srv, owner.client, member.client);
    const GROUP_CHANNEL = 77;
    await owner.client.request(FrameType.GroupCreate, GROUP_CHANNEL, {
      members: [adminDevice.deviceId, memberDevice.deviceId],
    });
    // The group's frames (GroupCreate notices) are not E2E; the owner opens the MLS conversation.
    await owner.e2e.open(GROUP_CHANNEL, [
      admin.client.session.userId,
      member.client.session.userId,
    ]);
    await until(admin.e2e, "joined");
    await until(member.e2e, "joined");
    await admin.e2e.send(GROUP_CHANNEL, "hello group");
    assert.deepEqual(texts(await until(member.e2e, "message")), [
      `${adminDevice.deviceId}:hello group`,
    ]);
    assert.deepEqual(texts(await until(owner.e2e, "message")), [
      `${adminDevice.deviceId}:hello group`,
    ]);
    assert.equal(owner.e2e.device.members(GROUP_CHANNEL).length, 3);
  } finally {
    for (const c of open) c.close();
    await srv.stop();
  }
});
