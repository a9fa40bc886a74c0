/**
 * Noise key rotation seen from a client: a device holding the previous
 * server key still completes a real XK handshake (the server's own
 * `ServerHandshake`, keyring = `NoiseKeyManager`) during the grace period
 * and is refused after it. Plus: two store connections racing to rotate.
 */
import assert from "node:assert/strict";
import {
  createHandshake,
  deviceKeysFromSeed,
  fromHex,
  generateDeviceKeys,
  generateId,
  generateKeyPair,
  proveDeviceKey,
  publicFromSeed,
  toHex,
  utf8,
  x25519PublicFromPrivate,
  zkpContext,
  zkpToJson,
} from "../src/crypto/mod.ts";
import {
  controlFrame,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  FrameType,
} from "../src/proto/mod.ts";
import { NOISE_SECRET_NAME, NoiseKeyManager } from "../src/security/rotation/mod.ts";
import { HandshakeError, ReplayCache, ServerHandshake } from "../src/session/mod.ts";
import { openStore, type Store } from "../src/storage/mod.ts";

const HOUR = 3_600_000;
const DOMAIN = "rotation.test";
const POLICY = { intervalHours: 24, graceHours: 6, maxVersions: 3 };

function decoded(frame: Parameters<typeof encodeFrame>[0]): DecodedFrame {
  return decodeFrame(encodeFrame(frame))!.frame;
}

/**
 * Runs a full XK handshake of a fresh device against the server's real
 * handshake code; returns the key version the server answered with.
 */
async function connect(
  store: Store,
  keyring: NoiseKeyManager,
  serverStatic: Uint8Array,
  now: () => number,
): Promise<{ serverStatic: string; sessionId: string }> {
  const ca = deviceKeysFromSeed(crypto.getRandomValues(new Uint8Array(32)));
  const server = new ServerHandshake({
    domain: DOMAIN,
    prologue: utf8("commucat"),
    keyring,
    store,
    ca: { seed: ca.privateKey, publicKey: ca.publicKey },
    autoApproveDevices: true,
    maxAutoDevicesPerUser: 0,
    sessionTtlSeconds: 60,
    keepaliveIntervalSeconds: 30,
    replay: new ReplayCache(10 * 60_000, 1000, now),
    ikFreshnessMs: 5 * 60_000,
    newId: (context) => generateId(context),
    now,
  });
  const device = generateDeviceKeys();
  const deviceId = `dev-${crypto.randomUUID()}`;
  const devicePublic = publicFromSeed(device.privateKey);
  const clientStatic = x25519PublicFromPrivate(device.privateKey);
  const noise = createHandshake({
    protocolName: "Noise_XK_25519_ChaChaPoly_BLAKE2s",
    initiator: true,
    prologue: utf8("commucat"),
    staticPrivate: device.privateKey,
    remoteStatic: serverStatic,
  });
  const context = zkpContext(DOMAIN, deviceId, devicePublic, clientStatic);
  const hello = {
    pattern: "XK",
    supported_versions: [1],
    device_id: deviceId,
    handshake: toHex(noise.writeMessage()),
    client_static: toHex(clientStatic),
    device_public: toHex(devicePublic),
    zkp: zkpToJson(
      proveDeviceKey({ privateSeed: device.privateKey, publicKey: devicePublic, context }),
    ),
    user: { handle: deviceId.replaceAll("-", "_").slice(0, 30) },
  };
  const auth = await server.hello(decoded(controlFrame(FrameType.Hello, 0, 1, hello)));
  const reply = JSON.parse(new TextDecoder().decode(auth.payload));
  noise.readMessage(fromHex(reply.handshake));
  const msg3 = noise.writeMessage();
  server.auth(decoded(controlFrame(FrameType.Auth, 0, 2, { handshake: toHex(msg3) })));
  const established = await server.commit();
  // Both sides derived the same keys: a transport message goes through.
  const clientTransport = noise.split();
  const sealed = established.transport.encrypt(utf8("ping"));
  assert.equal(new TextDecoder().decode(clientTransport.decrypt(sealed)), "ping");
  return { serverStatic: reply.server_static, sessionId: established.sessionId };
}

Deno.test("a client holding the previous key connects during the grace period, not after", async () => {
  const store = await openStore({ backend: "sqlite", path: ":memory:" }, { migrate: true });
  try {
    let t = Date.UTC(2025, 2, 1);
    const now = () => t;
    const bootstrap = generateKeyPair();
    const manager = new NoiseKeyManager({
      store,
      policy: POLICY,
      bootstrapKey: bootstrap,
      now: () => new Date(t),
    });
    await manager.start();
    const oldKey = bootstrap.publicKey;
    assert.equal((await connect(store, manager, oldKey, now)).serverStatic, toHex(oldKey));

    t += 24 * HOUR;
    const rotation = await manager.tick();
    assert.equal(rotation?.version, 2);
    const newKey = manager.newest().publicKey;
    assert.notEqual(toHex(newKey), toHex(oldKey));

    // Grace period: both keys work; the server answers with the key the client used.
    t += 6 * HOUR - 60_000;
    await manager.tick();
    assert.equal((await connect(store, manager, oldKey, now)).serverStatic, toHex(oldKey));
    assert.equal((await connect(store, manager, newKey, now)).serverStatic, toHex(newKey));

    // Grace over: the old key is refused at Noise message 1, the new one still works.
    t += 60_000;
    await manager.tick();
    await assert.rejects(
      connect(store, manager, oldKey, now),
      (error: Error) => error instanceof HandshakeError && error.reason === "noise",
    );
    assert.equal((await connect(store, manager, newKey, now)).serverStatic, toHex(newKey));
    assert.deepEqual((await store.listSecrets(NOISE_SECRET_NAME)).map((r) => r.version), [2]);
  } finally {
    await store.close();
  }
});

Deno.test("two instances on one database file rotate once between them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-rotation-" });
  const path = `${dir}/commucat.db`;
  const first = await openStore({ backend: "sqlite", path }, {
    migrate: true,
    createIfNew: true,
  });
  const second = await openStore({ backend: "sqlite", path });
  try {
    let t = Date.UTC(2025, 2, 1);
    const clock = () => new Date(t);
    const a = new NoiseKeyManager({ store: first, policy: POLICY, now: clock });
    const b = new NoiseKeyManager({ store: second, policy: POLICY, now: clock });
    await Promise.all([a.start(), b.start()]);
    assert.deepEqual((await first.listSecrets(NOISE_SECRET_NAME)).map((r) => r.version), [1]);
    for (let round = 2; round <= 4; round++) {
      t += 24 * HOUR;
      const events = await Promise.all([a.tick(), b.tick()]);
      assert.equal(events.filter((e) => e !== null).length, 1);
      assert.equal(a.newest().version, round);
      assert.equal(toHex(a.newest().publicKey), toHex(b.newest().publicKey));
    }
  } finally {
    await first.close();
    await second.close();
    await Deno.remove(dir, { recursive: true });
  }
});
