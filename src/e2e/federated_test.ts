/**
 * Device names across domains (docs/PROTOCOL.md "Device names across domains"): a device of a
 * federated domain is `dev@domain` in the viewer's pins and member lists while its credential
 * carries its bare home id; the directory's address and key decide the mapping.
 */
import assert from "node:assert/strict";
import {
  bareDeviceId,
  credentialDevice,
  E2EDevice,
  type E2EEvent,
  e2eSuite,
  type FetchedKeyPackage,
  generateKeyPackageFor,
  keyPackageSignedMessage,
  type KeyPackageSource,
  MemoryE2EStore,
  openKeyPackage,
  toBase64,
} from "./mod.ts";
import { fromBase64 } from "./bytes.ts";
import { generateDeviceKeys } from "../crypto/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** One viewer's key directory: uploads listed under the address the viewer uses for the device. */
class Directory implements KeyPackageSource {
  readonly packages = new Map<string, FetchedKeyPackage[]>();
  async publish(device: E2EDevice, address: string): Promise<void> {
    const list = this.packages.get(address) ?? [];
    for (const u of await device.newKeyPackages(2)) {
      list.push({ device_id: address, key_package: u.data, signature: u.signature });
    }
    this.packages.set(address, list);
  }
  fetchKeyPackage(deviceId: string): Promise<FetchedKeyPackage> {
    const chosen = this.packages.get(deviceId)?.shift();
    if (!chosen) throw new Error(`no key package for ${deviceId}`);
    return Promise.resolve(chosen);
  }
}

async function newDevice(deviceId: string) {
  const keys = generateDeviceKeys();
  const device = await E2EDevice.open(
    { deviceId, privateKey: keys.privateKey, publicKey: keys.publicKey },
    new MemoryE2EStore(),
  );
  return { device, publicKey: keys.publicKey, privateKey: keys.privateKey };
}

function messages(events: E2EEvent[]): string[] {
  return events.flatMap((e) => (e.kind === "message" ? [`${e.sender}:${str(e.data)}`] : []));
}

Deno.test("e2e across domains: a remote key package is accepted and members are named dev@domain", async () => {
  assert.equal(bareDeviceId("bob-1@b.test"), "bob-1");
  assert.equal(bareDeviceId("bob-1"), "bob-1");
  const alice = await newDevice("alice-1"); // on a.test
  const bob = await newDevice("bob-1"); // on b.test
  const dirA = new Directory();
  await dirA.publish(bob.device, "bob-1@b.test");
  // bob's SDK pins alice's address from b.test's directory before the Welcome comes.
  await bob.device.pin({ deviceId: "alice-1@a.test", publicKey: alice.publicKey });

  const [welcome] = await alice.device.createGroup(
    9,
    [{ deviceId: "bob-1@b.test", publicKey: bob.publicKey }],
    dirA,
  );
  const joined = await bob.device.receive(9, welcome);
  assert.deepEqual(joined.map((e) => e.kind), ["joined"]);
  const members = (d: E2EDevice) => d.members(9).map((m) => m.deviceId).sort();
  assert.deepEqual(members(alice.device), ["alice-1", "bob-1@b.test"]);
  assert.deepEqual(members(bob.device), ["alice-1@a.test", "bob-1"]);
  assert.equal(bob.device.pinnedKey("alice-1"), undefined, "no bare pin for the remote device");

  const m1 = await alice.device.encrypt(9, text("hello b"));
  assert.deepEqual(messages(await bob.device.receive(9, m1)), ["alice-1@a.test:hello b"]);
  const m2 = await bob.device.encrypt(9, text("hello a"));
  assert.deepEqual(messages(await alice.device.receive(9, m2)), ["bob-1@b.test:hello a"]);
  assert.ok(alice.device.isCommitter(9, new Set(["alice-1", "bob-1@b.test"])));

  // Removal by the address the viewer knows.
  const [commit] = await alice.device.removeDevices(9, ["bob-1@b.test"]);
  assert.ok(commit, "a commit removing the remote device");
  assert.deepEqual(members(alice.device), ["alice-1"]);
  const removed = await bob.device.receive(9, commit);
  assert.deepEqual(removed.map((e) => e.kind), ["removed"]);
});

Deno.test("e2e across domains: a remote credential naming another bare id is refused", async () => {
  const cs = await e2eSuite();
  const mallory = await newDevice("mallory");
  // A key package whose credential is "mallory", with a directory signature over "bob-1": the
  // directory lists it (and mallory's key) as bob-1@b.test.
  const generated = await generateKeyPackageFor(mallory.device.identity);
  const data = fromBase64(generated.upload.data);
  const resigned = await cs.signature.sign(
    mallory.privateKey,
    keyPackageSignedMessage("bob-1", data),
  );
  const fetched = {
    device_id: "bob-1@b.test",
    key_package: generated.upload.data,
    signature: toBase64(resigned),
  };
  await assert.rejects(
    openKeyPackage(fetched, "bob-1@b.test", mallory.publicKey),
    /credential does not name bob-1/,
  );
  // Signed over the full address instead of the bare id: not what the home server checked.
  const overAddress = await cs.signature.sign(
    mallory.privateKey,
    keyPackageSignedMessage("mallory@b.test", data),
  );
  await assert.rejects(
    openKeyPackage(
      { ...fetched, device_id: "mallory@b.test", signature: toBase64(overAddress) },
      "mallory@b.test",
      mallory.publicKey,
    ),
    /not signed by its device key/,
  );
  // The honest one, fetched under the address.
  const ok = await openKeyPackage(
    { ...fetched, device_id: "mallory@b.test", signature: generated.upload.signature },
    "mallory@b.test",
    mallory.publicKey,
  );
  assert.equal(credentialDevice(ok.leafNode.credential), "mallory");
});

Deno.test("e2e across domains: a remote device with a local device's bare id never moves its pin", async () => {
  const viewer = await newDevice("viewer"); // on a.test
  const carol = await newDevice("carol"); // on a.test too
  const evil = await newDevice("carol"); // on m.test, same bare id, another key
  await viewer.device.pin({ deviceId: "carol", publicKey: carol.publicKey });

  // Not pinned under its address: the Welcome naming "carol" with another key is refused, the
  // local pin stays, and the claim is reported.
  const dirM = new Directory();
  await dirM.publish(viewer.device, "viewer@a.test");
  const [sneaky] = await evil.device.createGroup(
    3,
    [{ deviceId: "viewer@a.test", publicKey: viewer.publicKey }],
    dirM,
  );
  const refused = await viewer.device.receive(3, sneaky);
  assert.deepEqual(refused.map((e) => e.kind), ["key_changed", "refused"]);
  assert.equal(refused[0].kind === "key_changed" && refused[0].deviceId, "carol");
  assert.deepEqual(viewer.device.pinnedKey("carol"), carol.publicKey, "local pin untouched");
  assert.equal(viewer.device.hasGroup(3), false);

  // Pinned from the directory as carol@m.test: the same kind of Welcome is accepted and its
  // sender named carol@m.test; the local carol keeps her pin and her name in a shared group.
  await viewer.device.pin({ deviceId: "carol@m.test", publicKey: evil.publicKey });
  await dirM.publish(viewer.device, "viewer@a.test");
  const [welcome] = await evil.device.createGroup(
    4,
    [{ deviceId: "viewer@a.test", publicKey: viewer.publicKey }],
    dirM,
  );
  const joined = await viewer.device.receive(4, welcome);
  assert.deepEqual(joined.map((e) => e.kind), ["joined"]);
  assert.deepEqual(joined[0].kind === "joined" && joined[0].members.sort(), [
    "carol@m.test",
    "viewer",
  ]);
  const m = await evil.device.encrypt(4, text("hi"));
  assert.deepEqual(messages(await viewer.device.receive(4, m)), ["carol@m.test:hi"]);
  assert.deepEqual(viewer.device.pinnedKey("carol"), carol.publicKey);

  const dirA = new Directory();
  await dirA.publish(carol.device, "carol");
  await dirA.publish(evil.device, "carol@m.test");
  await viewer.device.createGroup(6, [
    { deviceId: "carol", publicKey: carol.publicKey },
    { deviceId: "carol@m.test", publicKey: evil.publicKey },
  ], dirA);
  assert.deepEqual(viewer.device.members(6).map((m) => m.deviceId).sort(), [
    "carol",
    "carol@m.test",
    "viewer",
  ]);
  assert.deepEqual(viewer.device.pinnedKey("carol"), carol.publicKey);
  assert.deepEqual(viewer.device.pinnedKey("carol@m.test"), evil.publicKey);
});

Deno.test("e2e across domains: one key listed under two remote addresses is ambiguous and refused", async () => {
  const viewer = await newDevice("viewer");
  const x = await newDevice("x");
  await viewer.device.pin({ deviceId: "x@m.test", publicKey: x.publicKey });
  await viewer.device.pin({ deviceId: "x@n.test", publicKey: x.publicKey });
  const dir = new Directory();
  await dir.publish(viewer.device, "viewer@a.test");
  const [welcome] = await x.device.createGroup(
    2,
    [{ deviceId: "viewer@a.test", publicKey: viewer.publicKey }],
    dir,
  );
  const events = await viewer.device.receive(2, welcome);
  assert.deepEqual(events.map((e) => e.kind), ["refused"]);
  assert.equal(viewer.device.hasGroup(2), false);
  assert.equal(viewer.device.addressOf("x", x.publicKey), null);
  // Listed under the local id too: the local device it is.
  await viewer.device.pin({ deviceId: "x", publicKey: x.publicKey });
  assert.equal(viewer.device.addressOf("x", x.publicKey), "x");
});
