/**
 * MLS KeyPackages across domains: alice@a.test takes a KeyPackage of her
 * federated friend bob's device on b.test through her own server, which
 * asks b.test with a signed event; strangers, replays and forged requests
 * are refused by b.test. Two real server processes, as tests/federation_test.ts.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { deviceKeysFromSeed, fromUtf8, toHex } from "../src/crypto/mod.ts";
import { encodeSignedEvent, formatRfc3339Nanos, signEvent } from "../src/federation/mod.ts";
import { decodeBase64, encodeBase64, FrameType } from "../src/proto/mod.ts";
import { ensureSelfSignedCertificate } from "../src/security/tls/mod.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { type ServerProcess, spawnServer } from "./helpers/process.ts";
import { freePort } from "./helpers/services.ts";
import { keyPackageFor, keyPackageOf, suite, uploadEntry } from "./helpers/mls.ts";

interface Site {
  domain: string;
  dataDir: string;
  port: number;
  seed: Uint8Array;
  publicKey: Uint8Array;
  certPem: string;
}

async function site(domain: string): Promise<Site> {
  const dataDir = await Deno.makeTempDir({ prefix: `commucat-fedkp-${domain}-` });
  const seed = crypto.getRandomValues(new Uint8Array(32));
  await Deno.writeTextFile(`${dataDir}/federation.seed`, toHex(seed) + "\n");
  const tls = await ensureSelfSignedCertificate(dataDir, { domain });
  return {
    domain,
    dataDir,
    port: freePort(),
    seed: deviceKeysFromSeed(seed).privateKey,
    publicKey: deviceKeysFromSeed(seed).publicKey,
    certPem: await Deno.readTextFile(tls.certPath),
  };
}

async function start(self: Site, peer: Site): Promise<ServerProcess> {
  await Deno.writeTextFile(`${self.dataDir}/peer-ca.pem`, peer.certPem);
  return await spawnServer({
    dataDir: self.dataDir,
    port: self.port,
    env: {
      COMMUCAT_DOMAIN: self.domain,
      COMMUCAT_FEDERATION_PEERS: `${peer.domain},https://localhost:${peer.port},${
        toHex(peer.publicKey)
      }`,
      COMMUCAT_FEDERATION_CA_FILE: `${self.dataDir}/peer-ca.pem`,
    },
  });
}

async function nextOfType(client: CommuCatClient, type: FrameType) {
  const deadline = setTimeout(() => client.close(), 30_000);
  try {
    while (true) {
      const frame = await client.next();
      assert.ok(frame, `connection closed waiting for frame type ${type}`);
      if (frame.type === type) return frame;
    }
  } finally {
    clearTimeout(deadline);
  }
}

/** POSTs a hand-made signed key-package request (as a.test) straight to b.test. */
async function rawRequest(
  server: ServerProcess,
  a: Site,
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
  const a = await site("a.test");
  const b = await site("b.test");
  const serverA = await start(a, b);
  const serverB = await start(b, a);
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
