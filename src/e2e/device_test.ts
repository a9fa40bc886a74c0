import assert from "node:assert/strict";
import {
  deviceFingerprint,
  E2EDevice,
  E2EError,
  type E2EEvent,
  type FetchedKeyPackage,
  type KeyPackageSource,
  MemoryE2EStore,
  openKeyPackage,
  safetyNumber,
} from "./mod.ts";
import { generateDeviceKeys } from "../crypto/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** An in-memory key directory: what devices uploaded, each one-time package handed out once. */
class Directory implements KeyPackageSource {
  readonly packages = new Map<string, FetchedKeyPackage[]>();
  async publish(device: E2EDevice, count = 2): Promise<void> {
    const uploads = await device.newKeyPackages(count);
    const list = this.packages.get(device.identity.deviceId) ?? [];
    for (const u of uploads) {
      list.push({
        device_id: device.identity.deviceId,
        key_package: u.data,
        signature: u.signature,
        last_resort: u.last_resort,
      });
    }
    this.packages.set(device.identity.deviceId, list);
  }
  fetchKeyPackage(deviceId: string): Promise<FetchedKeyPackage> {
    const list = this.packages.get(deviceId) ?? [];
    const index = list.findIndex((p) => !p.last_resort);
    const chosen = index >= 0 ? list.splice(index, 1)[0] : list.find((p) => p.last_resort);
    if (!chosen) throw new Error(`no key package for ${deviceId}`);
    return Promise.resolve(chosen);
  }
}

async function newDevice(deviceId: string, store = new MemoryE2EStore()) {
  const keys = generateDeviceKeys();
  const device = await E2EDevice.open(
    { deviceId, privateKey: keys.privateKey, publicKey: keys.publicKey },
    store,
  );
  return { device, store, entry: { deviceId, publicKey: keys.publicKey } };
}

function messages(events: E2EEvent[]): string[] {
  return events.flatMap((e) => (e.kind === "message" ? [`${e.sender}:${str(e.data)}`] : []));
}

function kinds(events: E2EEvent[]): string[] {
  return events.map((e) => e.kind === "refused" ? `refused:${e.code}` : e.kind);
}

Deno.test("e2e: two devices form a group and chat both ways; the sender is authenticated", async () => {
  const dir = new Directory();
  const alice = await newDevice("alice-1");
  const bob = await newDevice("bob-1");
  await dir.publish(bob.device);
  const out = await alice.device.createGroup(5, [bob.entry], dir);
  assert.equal(out.length, 1, "only a Welcome travels for a new group");
  const joined = await bob.device.receive(5, out[0]);
  assert.deepEqual(kinds(joined), ["joined"]);
  assert.deepEqual(
    bob.device.epochAuthenticator(5),
    alice.device.epochAuthenticator(5),
    "both in the same epoch with the same secrets",
  );
  const m1 = await alice.device.encrypt(5, text("hello bob"));
  assert.ok(!str(m1).includes("hello bob"), "ciphertext only");
  assert.deepEqual(messages(await bob.device.receive(5, m1)), ["alice-1:hello bob"]);
  const m2 = await bob.device.encrypt(5, text("hi alice"));
  assert.deepEqual(messages(await alice.device.receive(5, m2)), ["bob-1:hi alice"]);
  // Payload sizes are padded to buckets.
  assert.equal(
    (await alice.device.encrypt(5, text("a"))).length,
    (await alice.device.encrypt(5, text("a longer message"))).length,
  );
});

Deno.test("e2e: out-of-order, duplicated and lost messages; a message ahead of its commit is held", async () => {
  const dir = new Directory();
  const alice = await newDevice("alice-1");
  const bob = await newDevice("bob-1");
  await dir.publish(bob.device);
  const [welcome] = await alice.device.createGroup(7, [bob.entry], dir);
  await bob.device.receive(7, welcome);
  const sent = [];
  for (let i = 1; i <= 6; i++) sent.push(await alice.device.encrypt(7, text(`m${i}`)));
  const got: string[] = [];
  for (const i of [5, 3, 1, 4, 6]) got.push(...messages(await bob.device.receive(7, sent[i - 1])));
  assert.deepEqual(got, ["alice-1:m5", "alice-1:m3", "alice-1:m1", "alice-1:m4", "alice-1:m6"]);
  assert.deepEqual(kinds(await bob.device.receive(7, sent[2])), ["duplicate"]);
  // m2 is lost: nothing else suffers. A commit and a message of the new epoch arrive swapped.
  const [commit] = await alice.device.updateKeys(7);
  const after = await alice.device.encrypt(7, text("after commit"));
  assert.deepEqual(kinds(await bob.device.receive(7, after)), ["held"]);
  const events = await bob.device.receive(7, commit);
  assert.deepEqual(kinds(events), ["membership", "message"]);
  assert.deepEqual(messages(events), ["alice-1:after commit"]);
  assert.deepEqual(kinds(await bob.device.receive(7, commit)), ["duplicate"]);
  // A message of the previous epoch that was late still reads (recent epochs are kept).
  assert.deepEqual(messages(await bob.device.receive(7, sent[1])), ["alice-1:m2"]);
});

Deno.test("e2e: a new device cannot read what was sent before it joined; a removed one cannot read what follows", async () => {
  const dir = new Directory();
  const alice = await newDevice("alice-1");
  const bob1 = await newDevice("bob-1");
  const bob2 = await newDevice("bob-2");
  await dir.publish(bob1.device);
  await dir.publish(bob2.device);
  const [welcome] = await alice.device.createGroup(9, [bob1.entry], dir);
  await bob1.device.receive(9, welcome);
  const before = await alice.device.encrypt(9, text("before bob-2"));
  await bob1.device.receive(9, before);

  const [commit, welcome2] = await alice.device.addDevices(9, [bob2.entry], dir);
  assert.deepEqual(kinds(await bob1.device.receive(9, commit)), ["membership"]);
  assert.deepEqual(kinds(await bob1.device.receive(9, welcome2)), ["ignored"]);
  assert.deepEqual(kinds(await bob2.device.receive(9, welcome2)), ["joined"]);
  const old = await bob2.device.receive(9, before);
  assert.deepEqual(messages(old), [], "no history before joining");
  assert.deepEqual(kinds(old), ["refused:stale_epoch"]);
  const hello = await alice.device.encrypt(9, text("hello all"));
  assert.deepEqual(messages(await bob2.device.receive(9, hello)), ["alice-1:hello all"]);
  assert.deepEqual(messages(await bob1.device.receive(9, hello)), ["alice-1:hello all"]);

  // bob-2 is revoked: removed, and a copy of its state taken before the removal stays useless.
  const stolen = await E2EDevice.open(bob2.device.identity, await copyStore(bob2.store));
  const [removal] = await alice.device.removeDevices(9, ["bob-2"]);
  assert.deepEqual(kinds(await bob2.device.receive(9, removal)), ["removed"]);
  assert.equal(bob2.device.hasGroup(9), false);
  assert.deepEqual(kinds(await bob1.device.receive(9, removal)), ["membership"]);
  const secret = await alice.device.encrypt(9, text("after removal"));
  assert.deepEqual(messages(await bob1.device.receive(9, secret)), ["alice-1:after removal"]);
  assert.deepEqual(kinds(await bob2.device.receive(9, secret)), ["held"]);
  assert.deepEqual(messages(await stolen.receive(9, secret)), []);
  assert.deepEqual(alice.device.members(9).map((m) => m.deviceId).sort(), ["alice-1", "bob-1"]);
});

async function copyStore(store: MemoryE2EStore): Promise<MemoryE2EStore> {
  const copy = new MemoryE2EStore();
  for (const key of await store.keys("")) await copy.put(key, (await store.get(key))!);
  return copy;
}

Deno.test("e2e: forged commits, another device's key package and replayed Welcomes are refused", async () => {
  const dir = new Directory();
  const alice = await newDevice("alice-1");
  const bob = await newDevice("bob-1");
  const mallory = await newDevice("mallory-1");
  await dir.publish(bob.device);
  await dir.publish(mallory.device);

  // The directory hands out mallory's key package (signed by her key) as bob's: refused.
  const forgedSource: KeyPackageSource = {
    fetchKeyPackage: async () => ({
      ...(await dir.fetchKeyPackage("mallory-1")),
      device_id: "bob-1",
    }),
  };
  await assert.rejects(
    alice.device.createGroup(11, [bob.entry], forgedSource),
    (e: unknown) => e instanceof E2EError && e.code === "wrong_signer",
  );
  // …and one signed by bob's key but naming mallory's device id in the credential is, too.
  const fetched = await dir.fetchKeyPackage("bob-1");
  await assert.rejects(
    openKeyPackage(fetched, "bob-1", mallory.entry.publicKey),
    (e: unknown) => e instanceof E2EError && e.code === "wrong_signer",
  );

  const [welcome] = await alice.device.createGroup(12, [bob.entry], dir);
  assert.deepEqual(kinds(await bob.device.receive(12, welcome)), ["joined"]);
  assert.deepEqual(kinds(await bob.device.receive(12, welcome)), ["refused:replayed_welcome"]);
  assert.deepEqual(kinds(await bob.device.receive(13, welcome)), ["refused:replayed_welcome"]);

  const [commit] = await alice.device.updateKeys(12);
  const forged = commit.slice();
  forged[forged.length - 10] ^= 0x55;
  assert.deepEqual(kinds(await bob.device.receive(12, forged)), ["refused:bad_message"]);
  // A commit of mallory's own group with the same channel: another group, refused.
  await dir.publish(bob.device);
  await mallory.device.createGroup(12, [bob.entry], dir);
  const [foreign] = await mallory.device.updateKeys(12);
  assert.deepEqual(kinds(await bob.device.receive(12, foreign)), ["refused:wrong_group"]);
  // The genuine commit still applies.
  assert.deepEqual(kinds(await bob.device.receive(12, commit)), ["membership"]);
  assert.deepEqual(bob.device.epochAuthenticator(12), alice.device.epochAuthenticator(12));
});

Deno.test("e2e: state survives a restart; key changes and safety numbers", async () => {
  const dir = new Directory();
  const alice = await newDevice("alice-1");
  const bob = await newDevice("bob-1");
  await dir.publish(bob.device);
  const [welcome] = await alice.device.createGroup(3, [bob.entry], dir);
  await bob.device.receive(3, welcome);
  const reopened = await E2EDevice.open(bob.device.identity, bob.store);
  const m = await alice.device.encrypt(3, text("still there"));
  assert.deepEqual(messages(await reopened.receive(3, m)), ["alice-1:still there"]);

  const rotated = generateDeviceKeys();
  const change = await alice.device.pin({ deviceId: "bob-1", publicKey: rotated.publicKey });
  assert.equal(change?.kind, "key_changed");
  assert.equal(await alice.device.pin({ deviceId: "bob-1", publicKey: rotated.publicKey }), null);

  const a = { userId: "u-alice", deviceKeys: [alice.entry.publicKey] };
  const b = { userId: "u-bob", deviceKeys: [bob.entry.publicKey] };
  const number = await safetyNumber(a, b);
  assert.match(number, /^(\d{5} ){11}\d{5}$/);
  assert.equal(await safetyNumber(b, a), number, "the same on both sides");
  assert.notEqual(
    await safetyNumber(a, { userId: "u-bob", deviceKeys: [rotated.publicKey] }),
    number,
    "a new key changes it",
  );
  assert.match(await deviceFingerprint(alice.entry.publicKey), /^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
});

Deno.test("e2e: two members opening one channel at once converge on the group with the smaller id", async () => {
  const dir = new Directory();
  const alice = await newDevice("alice-1");
  const bob = await newDevice("bob-1");
  await dir.publish(alice.device);
  await dir.publish(bob.device);
  const [fromAlice] = await alice.device.createGroup(21, [bob.entry], dir);
  const [fromBob] = await bob.device.createGroup(21, [alice.entry], dir);
  await alice.device.receive(21, fromBob);
  await bob.device.receive(21, fromAlice);
  assert.deepEqual(alice.device.epochAuthenticator(21), bob.device.epochAuthenticator(21));
  const m = await bob.device.encrypt(21, text("same group"));
  assert.deepEqual(messages(await alice.device.receive(21, m)), ["bob-1:same group"]);
});
