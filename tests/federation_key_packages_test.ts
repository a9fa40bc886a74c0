/**
 * MLS KeyPackages across domains: alice@a.test takes a KeyPackage of her
 * federated friend bob's device on b.test through her own server, which
 * asks b.test with a signed event; strangers, replays and forged requests
 * are refused by b.test. Then an MLS conversation across the two domains:
 * what a.test queues for b.test (signed federation events) and what both
 * store carry the ciphertext, never the text. Two real server processes,
 * as tests/federation_test.ts.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { deviceKeyFingerprint, fromUtf8, toHex } from "../src/crypto/mod.ts";
import { encodeSignedEvent, formatRfc3339Nanos, signEvent } from "../src/federation/mod.ts";
import { decodeBase64, encodeBase64, FrameType } from "../src/proto/mod.ts";
import { assertNoText } from "./helpers/plaintext.ts";
import { nextOfType } from "./helpers/frames.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import type { ServerProcess } from "./helpers/process.ts";
import {
  type FederationSite,
  federationSite,
  sqliteRows,
  startFederated,
} from "./helpers/federation.ts";
import {
  decrypt,
  encrypt,
  join,
  keyPackageFor,
  keyPackageOf,
  startGroup,
  suite,
  uploadEntry,
} from "./helpers/mls.ts";

/** POSTs a hand-made signed key-package request (as a.test) straight to b.test. */
async function rawRequest(
  server: ServerProcess,
  a: FederationSite,
  payload: Record<string, string>,
  eventId = crypto.randomUUID(),
) {
  const event = signEvent({
    event_id: eventId,
    origin: a.domain,
    scope: "b.test",
    created_at: formatRfc3339Nanos(BigInt(Date.now()) * 1_000_000n),
    payload,
  }, a.seed);
  const client = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  try {
    const response = await fetch(`${server.url}/federation/key-package`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: encodeSignedEvent(event),
      client,
    });
    return { status: response.status, text: await response.text() };
  } finally {
    client.close();
  }
}

Deno.test("federation key packages: a federated friend takes one through its server; strangers, replays and forgeries are refused", async () => {
  const a = await federationSite("a.test", "fedkp");
  const b = await federationSite("b.test", "fedkp");
  const serverA = await startFederated(a, b);
  const serverB = await startFederated(b, a);
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  const carol = newDevice("carol");
  const clients: CommuCatClient[] = [];
  try {
    const ca = await CommuCatClient.connect(connectOptions(serverA, alice));
    const cc = await CommuCatClient.connect(connectOptions(serverA, carol));
    const cb = await CommuCatClient.connect(connectOptions(serverB, bob));
    clients.push(ca, cb, cc);
    const cs = await suite();
    const packages = await Promise.all([1, 2].map(() => keyPackageFor(cs, bob.deviceId)));
    const up = await api(serverB, "POST", "/api/e2e/key-packages", {
      as: cb,
      json: { key_packages: packages.map((p) => uploadEntry(bob, p.bytes)) },
    });
    assert.equal(up.status, 201, up.text);
    const take = `/api/e2e/key-packages/${bob.deviceId}@b.test`;

    // Not friends yet: b.test answers "none", a.test passes that on.
    assertProblem(
      await api(serverA, "GET", take, { as: ca }),
      404,
      "no key package available for this device",
    );

    const sent = await api(serverA, "POST", `/api/friends/requests/${bob.handle}@b.test`, {
      as: ca,
    });
    assert.equal(sent.status, 202, sent.text);
    await nextOfType(cb, FrameType.GroupEvent);
    const accepted = await api(
      serverB,
      "POST",
      `/api/friends/requests/${alice.handle}@a.test/accept`,
      { as: cb },
    );
    assert.equal(accepted.status, 200, accepted.text);
    const notice = JSON.parse(fromUtf8((await nextOfType(ca, FrameType.GroupEvent)).payload));
    assert.equal(notice.type, "friend_request_accepted");

    // A Welcome for bob's device alone, relayed by a.test as a signed event.
    const welcome = new Uint8Array([0, 1, 0, 3, 7, 7, 7]);
    const welcomeBody = {
      device_id: `${bob.deviceId}@b.test`,
      channel: 800,
      welcome: encodeBase64(welcome),
    };
    const relayed = await api(serverA, "POST", "/api/e2e/welcome", { as: ca, json: welcomeBody });
    assert.equal(relayed.status, 202, relayed.text);
    const arrived = await nextOfType(cb, FrameType.Msg);
    assert.equal(arrived.channel, 800);
    assert.deepEqual(arrived.payload, welcome);
    assertProblem(
      await api(serverA, "POST", "/api/e2e/welcome", { as: cc, json: welcomeBody }),
      404,
      "device not found",
    );

    // The friend's devices, with fingerprints and stock, through a.test.
    const listed = await api(serverA, "GET", `/api/e2e/devices/${bob.handle}@b.test`, { as: ca });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.body?.user_id, `${bob.handle}@b.test`);
    assert.deepEqual(
      (listed.body?.devices as Record<string, unknown>[]).map((d) => ({ ...d, created_at: 0 })),
      [{
        device_id: `${bob.deviceId}@b.test`,
        public_key: toHex(bob.publicKey),
        fingerprint: toHex(deviceKeyFingerprint(bob.publicKey)),
        created_at: 0,
        key_packages: { one_time: 2, last_resort: false },
      }],
    );
    assertProblem(
      await api(serverA, "GET", `/api/e2e/devices/${bob.handle}@b.test`, { as: cc }),
      404,
      "user not found",
    );
    assertProblem(
      await api(serverA, "GET", `/api/e2e/devices/nobody@b.test`, { as: ca }),
      404,
      "user not found",
    );

    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await api(serverA, "GET", take, { as: ca });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body?.device_id, `${bob.deviceId}@b.test`);
      assert.equal(r.body?.user_id, `${bob.handle}@b.test`);
      assert.equal(r.body?.device_public, toHex(bob.publicKey));
      assert.equal(r.body?.last_resort, false);
      assert.equal(r.body?.cipher_suite, 1);
      const kp = keyPackageOf(decodeBase64(String(r.body?.key_package)));
      assert.equal(
        fromUtf8((kp.leafNode.credential as { identity: Uint8Array }).identity),
        bob.deviceId,
      );
      got.push(String(r.body?.key_package));
    }
    assert.deepEqual(got.sort(), packages.map((p) => encodeBase64(p.bytes)).sort(), "each once");
    assertProblem(
      await api(serverA, "GET", take, { as: ca }),
      404,
      "no key package available for this device",
    );

    // Carol (a.test, no friend of bob) gets nothing either.
    await api(serverB, "POST", "/api/e2e/key-packages", {
      as: cb,
      json: { key_packages: [uploadEntry(bob, (await keyPackageFor(cs, bob.deviceId)).bytes)] },
    });
    assertProblem(await api(serverA, "GET", take, { as: cc }), 404);

    // Straight at b.test: a request for someone else's friend, a replay, a user of another origin.
    const asCarol = {
      type: "key_package_request",
      from: `${carol.handle}@a.test`,
      device: bob.deviceId,
    };
    assert.equal((await rawRequest(serverB, a, asCarol)).status, 404);
    const id = crypto.randomUUID();
    const asAlice = {
      type: "key_package_request",
      from: `${alice.handle}@a.test`,
      device: bob.deviceId,
    };
    const first = await rawRequest(serverB, a, asAlice, id);
    assert.equal(first.status, 200, first.text);
    const replay = await rawRequest(serverB, a, asAlice, id);
    assert.equal(replay.status, 409, replay.text);
    const spoofed = await rawRequest(serverB, a, { ...asAlice, from: `${alice.handle}@b.test` });
    assert.equal(spoofed.status, 403);
    // Signed by someone who is not a.test's key.
    const forged = await rawRequest(serverB, {
      ...a,
      seed: crypto.getRandomValues(new Uint8Array(32)),
    }, asAlice);
    assert.equal(forged.status, 403);
  } finally {
    for (const c of clients) c.close();
    await Promise.all([serverA.stop(), serverB.stop()]);
    for (const s of [a, b]) await Deno.remove(s.dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("federation e2e: the events a.test queues for b.test and both databases hold MLS ciphertext, never the text", async () => {
  const a = await federationSite("a.test", "fedkp");
  const b = await federationSite("b.test", "fedkp");
  const serverA = await startFederated(a, b);
  let serverB = await startFederated(b, a);
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  const clients: CommuCatClient[] = [];
  try {
    const ca = await CommuCatClient.connect(connectOptions(serverA, alice));
    let cb = await CommuCatClient.connect(connectOptions(serverB, bob));
    clients.push(ca, cb);
    const sent = await api(serverA, "POST", `/api/friends/requests/${bob.handle}@b.test`, {
      as: ca,
    });
    assert.equal(sent.status, 202, sent.text);
    await nextOfType(cb, FrameType.GroupEvent);
    const ok = await api(serverB, "POST", `/api/friends/requests/${alice.handle}@a.test/accept`, {
      as: cb,
    });
    assert.equal(ok.status, 200, ok.text);
    await nextOfType(ca, FrameType.GroupEvent);

    const cs = await suite();
    const bobKp = await keyPackageFor(cs, bob.deviceId);
    const aliceKp = await keyPackageFor(cs, alice.deviceId);
    await api(serverB, "POST", "/api/e2e/key-packages", {
      as: cb,
      json: { key_packages: [uploadEntry(bob, bobKp.bytes)] },
    });
    const taken = await api(serverA, "GET", `/api/e2e/key-packages/${bob.deviceId}@b.test`, {
      as: ca,
    });
    assert.equal(taken.status, 200, taken.text);
    const group = await startGroup(
      cs,
      "fed-group",
      aliceKp,
      keyPackageOf(decodeBase64(String(taken.body?.key_package))),
    );
    await ca.join(700, [`${bob.deviceId}@b.test`]);

    // b.test is down: the Welcome and the messages wait in a.test's federation outbox.
    cb.close();
    assert.equal(await serverB.stop(), 0);
    const marker = crypto.randomUUID().slice(0, 8);
    const texts = [`federated secret one ${marker}`, `federated secret two ${marker}`];
    await ca.send(700, group.welcome);
    let state = group.state;
    const ciphertexts: Uint8Array[] = [];
    for (const text of texts) {
      const sealed = await encrypt(cs, state, text);
      state = sealed.state;
      ciphertexts.push(sealed.bytes);
      await ca.send(700, sealed.bytes);
    }
    const outbox = sqliteRows(a.dataDir).filter((r) => r.startsWith("federation_outbox"));
    assert.ok(outbox.length >= 3, "the events wait in the outbox");
    const everything = outbox.join("\n");
    for (const c of ciphertexts) {
      assert.ok(everything.includes(toHex(c)), "the ciphertext is relayed");
    }
    for (const text of texts) assertNoText("a.test outbox", everything, text);

    serverB = await startFederated(b, a);
    cb = await CommuCatClient.connect(connectOptions(serverB, bob));
    clients.push(cb);
    // Federation does not keep the order of frames (docs/PROTOCOL.md): the client
    // takes the Welcome first and decrypts the rest by their MLS generation.
    const frames: Uint8Array[] = [];
    while (frames.length < 3) frames.push((await nextOfType(cb, FrameType.Msg)).payload);
    const isWelcome = (p: Uint8Array) => p[0] === 0 && p[1] === 1 && p[2] === 0 && p[3] === 3;
    let bobState = await join(cs, frames.find(isWelcome)!, bobKp);
    const opened: string[] = [];
    for (const payload of frames.filter((p) => !isWelcome(p))) {
      const result = await decrypt(cs, bobState, payload);
      bobState = result.state;
      opened.push(result.text);
    }
    assert.deepEqual(opened.sort(), [...texts].sort());
    for (const [name, s] of [["a.test", a], ["b.test", b]] as const) {
      const rows = sqliteRows(s.dataDir).join("\n");
      for (const text of texts) assertNoText(`${name} database`, rows, text);
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all([serverA.stop(), serverB.stop()]);
    for (const s of [a, b]) await Deno.remove(s.dataDir, { recursive: true }).catch(() => {});
  }
});
