/**
 * The SDK's end-to-end encryption across two domains: alice@a.test and bob@b.test, each with an
 * {@link E2EClient} on its own server process, open an MLS conversation through the federated key
 * directory (bob's device is `dev@b.test` to alice, alice's is `dev@a.test` to bob) and chat both
 * ways; a device bob pairs later is added as `dev@b.test` and removed once revoked; what both
 * servers store or queue for each other holds ciphertext, never the text.
 */
import assert from "node:assert/strict";
import type { CommuCatClient, E2EClient } from "../src/client/mod.ts";
import type { E2EEvent } from "../src/e2e/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { usersOfDevices } from "../cli/client_e2e.ts";
import type { ClientProfile } from "../cli/client_profile.ts";
import { assertNoText } from "./helpers/plaintext.ts";
import { pairDevice } from "./helpers/pairing.ts";
import { attach, texts, until } from "./helpers/e2e.ts";
import { nextOfType } from "./helpers/frames.ts";
import { api } from "./helpers/api.ts";
import { newDevice } from "./helpers/devices.ts";
import { federationSite, sqliteRows, startFederated } from "./helpers/federation.ts";

/** {@link until}, failing on a `refused` event: federation must not refuse any. */
const untilOk = (e2e: E2EClient, kind: E2EEvent["kind"]) => until(e2e, kind, true);

Deno.test("federation e2e through the SDK: alice@a.test and bob@b.test chat end to end both ways; neither server holds the text", async () => {
  const a = await federationSite("a.test", "fede2e");
  const b = await federationSite("b.test", "fede2e");
  const serverA = await startFederated(a, b);
  let serverB = await startFederated(b, a);
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  const clients: CommuCatClient[] = [];
  try {
    const alice = await attach(serverA, aliceDevice);
    const bob = await attach(serverB, bobDevice);
    clients.push(alice.client, bob.client);
    const sent = await api(serverA, "POST", `/api/friends/requests/${bobDevice.handle}@b.test`, {
      as: alice.client,
    });
    assert.equal(sent.status, 202, sent.text);
    await nextOfType(bob.client, FrameType.GroupEvent);
    const accepted = await api(
      serverB,
      "POST",
      `/api/friends/requests/${aliceDevice.handle}@a.test/accept`,
      { as: bob.client },
    );
    assert.equal(accepted.status, 200, accepted.text);
    const notice = JSON.parse(
      fromUtf8((await nextOfType(alice.client, FrameType.GroupEvent)).payload),
    );
    assert.equal(notice.type, "friend_request_accepted");

    const CHANNEL = 901;
    const bobAddress = `${bobDevice.deviceId}@b.test`;
    const aliceAddress = `${aliceDevice.deviceId}@a.test`;
    await alice.e2e.open(CHANNEL, [`${bobDevice.handle}@b.test`]);
    const joined = (await untilOk(bob.e2e, "joined")).find((e) => e.kind === "joined");
    assert.ok(joined?.kind === "joined");
    assert.deepEqual(joined.members.sort(), [aliceAddress, bobDevice.deviceId].sort());
    assert.deepEqual(
      alice.e2e.device.members(CHANNEL).map((m) => m.deviceId).sort(),
      [aliceDevice.deviceId, bobAddress].sort(),
    );
    assert.deepEqual(bob.e2e.device.pinnedKey(aliceAddress), aliceDevice.publicKey);

    const marker = crypto.randomUUID().slice(0, 8);
    const said = [`across domains hello ${marker}`, `across domains reply ${marker}`];
    await alice.e2e.send(CHANNEL, said[0]);
    assert.deepEqual(texts(await untilOk(bob.e2e, "message")), [`${aliceAddress}:${said[0]}`]);
    await bob.e2e.send(CHANNEL, said[1]);
    assert.deepEqual(texts(await untilOk(alice.e2e, "message")), [`${bobAddress}:${said[1]}`]);
    assert.deepEqual(
      alice.e2e.device.epochAuthenticator(CHANNEL),
      bob.e2e.device
        .epochAuthenticator(CHANNEL),
    );

    // The directory lists the addresses the group has: a sync changes nothing.
    const epoch = alice.e2e.device.epoch(CHANNEL);
    assert.deepEqual(await alice.e2e.sync(CHANNEL, [`${bobDevice.handle}@b.test`]), []);
    assert.deepEqual(await bob.e2e.sync(CHANNEL, [`${aliceDevice.handle}@a.test`]), []);
    assert.equal(alice.e2e.device.epoch(CHANNEL), epoch);

    // bob pairs a second device on b.test: alice (the committer) adds it as dev@b.test; bob's
    // device sees a local device added and puts it into b.test's route of the channel.
    const { device: bob2Device, certificate } = await pairDevice(serverB, bob.client);
    const bob2 = await attach(serverB, bob2Device, { certificate });
    clients.push(bob2.client);
    const bob2Address = `${bob2Device.deviceId}@b.test`;
    await alice.e2e.sync(CHANNEL, [`${bobDevice.handle}@b.test`]);
    const added = (await untilOk(bob.e2e, "membership")).find((e) => e.kind === "membership");
    assert.ok(added?.kind === "membership");
    assert.deepEqual(added.added, [bob2Device.deviceId]);
    assert.equal(added.by, aliceAddress);
    const joined2 = (await untilOk(bob2.e2e, "joined")).find((e) => e.kind === "joined");
    assert.ok(joined2?.kind === "joined");
    assert.deepEqual(
      joined2.members.sort(),
      [aliceAddress, bobDevice.deviceId, bob2Device.deviceId].sort(),
    );
    assert.deepEqual(
      alice.e2e.device.members(CHANNEL).map((m) => m.deviceId).sort(),
      [aliceDevice.deviceId, bobAddress, bob2Address].sort(),
    );
    said.push(`to both bobs ${marker}`);
    await alice.e2e.send(CHANNEL, said.at(-1)!);
    assert.deepEqual(texts(await untilOk(bob2.e2e, "message")), [`${aliceAddress}:${said.at(-1)}`]);
    assert.deepEqual(texts(await untilOk(bob.e2e, "message")), [`${aliceAddress}:${said.at(-1)}`]);
    said.push(`from bob two ${marker}`);
    await bob2.e2e.send(CHANNEL, said.at(-1)!);
    assert.deepEqual(texts(await untilOk(alice.e2e, "message")), [`${bob2Address}:${said.at(-1)}`]);
    assert.deepEqual(texts(await untilOk(bob.e2e, "message")), [
      `${bob2Device.deviceId}:${said.at(-1)}`,
    ]);
    bob2.client.close();

    // bob-2 is revoked on b.test: alice's next sync removes bob2@b.test; bob sees bob-2 go.
    const revoked = await api(serverB, "POST", "/api/devices/revoke", {
      as: bob.client,
      json: { device_id: bob2Device.deviceId },
    });
    assert.ok(revoked.status < 300, `revoke: ${revoked.status} ${revoked.text}`);
    await alice.e2e.sync(CHANNEL, [`${bobDevice.handle}@b.test`]);
    const gone = (await untilOk(bob.e2e, "membership")).find((e) => e.kind === "membership");
    assert.ok(gone?.kind === "membership");
    assert.deepEqual(gone.removed, [bob2Device.deviceId]);
    assert.deepEqual(
      alice.e2e.device.members(CHANNEL).map((m) => m.deviceId).sort(),
      [aliceDevice.deviceId, bobAddress].sort(),
    );

    // The terminal client's sync finds the owner of dev@b.test members through the directory
    // (`/api/friends` lists no devices of federated friends): the committer keeps them.
    await Deno.writeTextFile(`${a.dataDir}/own-ca.pem`, serverA.certificatePem);
    const profile = { server_url: serverA.url, tls_ca_path: `${a.dataDir}/own-ca.pem` };
    assert.deepEqual(
      await usersOfDevices(profile as ClientProfile, alice.client, [bobAddress]),
      [`${bobDevice.handle}@b.test`],
    );

    // b.test down: what alice sends waits in a.test's federation outbox, as ciphertext.
    bob.client.close();
    await bob.client.finished;
    assert.equal(await serverB.stop(), 0);
    said.push(`while b.test was down ${marker}`);
    await alice.e2e.send(CHANNEL, said.at(-1)!);
    const outbox = sqliteRows(a.dataDir).filter((r) => r.startsWith("federation_outbox"));
    assert.ok(outbox.length >= 1, "the message waits in a.test's outbox");
    for (const text of said) assertNoText("a.test outbox", outbox.join("\n"), text);

    serverB = await startFederated(b, a);
    // bob's device comes back with its stored E2E state (pins and group by address).
    const bobAgain = await attach(serverB, bobDevice, { store: bob.store });
    clients.push(bobAgain.client);
    assert.deepEqual(texts(await untilOk(bobAgain.e2e, "message")), [
      `${aliceAddress}:${said.at(-1)}`,
    ]);
    said.push(`after the restart ${marker}`);
    await bobAgain.e2e.send(CHANNEL, said.at(-1)!);
    assert.deepEqual(texts(await untilOk(alice.e2e, "message")), [`${bobAddress}:${said.at(-1)}`]);

    for (const [name, s] of [["a.test", a], ["b.test", b]] as const) {
      const rows = sqliteRows(s.dataDir).join("\n");
      for (const text of said) assertNoText(`${name} database`, rows, text);
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all([serverA.stop(), serverB.stop()]);
    for (const s of [a, b]) await Deno.remove(s.dataDir, { recursive: true }).catch(() => {});
  }
});
