/**
 * Test fakes for the server handshake: an in-memory {@linkcode HandshakeStore}
 * and a client that builds real Hellos (Noise, key proof, certificate), so
 * `ServerHandshake` runs without a server process or a database.
 *
 * @module
 */
import {
  createHandshake,
  deviceKeysFromSeed,
  fromHex,
  generateKeyPair,
  type Handshake,
  type NoiseTransport,
  proveDeviceKey,
  publicFromSeed,
  sessionPattern,
  toHex,
  utf8,
  x25519PublicFromPrivate,
  zkpContext,
  zkpToJson,
} from "../crypto/mod.ts";
import {
  controlFrame,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameType,
} from "../proto/mod.ts";
import type {
  DeviceKeyEvent,
  DeviceRecord,
  HandshakeCommitted,
  HandshakeWrites,
  UserRecord,
} from "../storage/mod.ts";
import type { KemKeyPair, SignatureKeyPair } from "../crypto/pq/mod.ts";
import type { HandshakeDeps, ServerHandshake } from "./handshake.ts";
import type { HandshakeStore } from "./identity.ts";
import { StaticKeyring } from "../crypto/mod.ts";
import { ReplayCache } from "./replay.ts";

export const DOMAIN = "fake.test";
const PROLOGUE = utf8("commucat");

/** Users, devices and key events in maps; every commit is kept for inspection. */
export class FakeStore implements HandshakeStore {
  readonly users = new Map<string, UserRecord>();
  readonly devices = new Map<string, DeviceRecord>();
  readonly keyEvents: DeviceKeyEvent[] = [];
  readonly commits: HandshakeWrites[] = [];

  getDevice(deviceId: string): Promise<DeviceRecord | null> {
    return Promise.resolve(this.devices.get(deviceId) ?? null);
  }
  getUser(userId: string): Promise<UserRecord | null> {
    return Promise.resolve(this.users.get(userId) ?? null);
  }
  getUserByHandle(handle: string, domain: string): Promise<UserRecord | null> {
    const found = [...this.users.values()].find((u) => u.handle === handle && u.domain === domain);
    return Promise.resolve(found ?? null);
  }
  latestDeviceKeyEvent(deviceId: string): Promise<DeviceKeyEvent | null> {
    const events = this.keyEvents.filter((e) => e.deviceId === deviceId);
    return Promise.resolve(events.at(-1) ?? null);
  }
  commitHandshake(writes: HandshakeWrites): Promise<HandshakeCommitted> {
    this.commits.push(writes);
    if (writes.createUser) this.users.set(writes.createUser.userId, writes.createUser);
    if (writes.insertDevice) this.devices.set(writes.insertDevice.deviceId, writes.insertDevice);
    if (writes.updateDeviceKey) {
      const device = this.devices.get(writes.updateDeviceKey.deviceId);
      if (device) device.publicKey = writes.updateDeviceKey.publicKey;
    }
    if (writes.keyEvent) this.keyEvents.push(writes.keyEvent);
    const userId = writes.session.userId;
    const activeDevices = [...this.devices.values()]
      .filter((d) => d.userId === userId && d.status === "active").length;
    return Promise.resolve({ user: this.users.get(userId) ?? null, activeDevices });
  }
}

/**
 * A server side with fixed keys, a settable clock and the fake store;
 * `pqSigning` gives its Noise key an ML-DSA-65 identity (hybrid patterns).
 */
export function fakeServer(
  overrides: Partial<HandshakeDeps> = {},
  pqSigning: SignatureKeyPair | null = null,
) {
  const noiseKey = generateKeyPair();
  const ca = deviceKeysFromSeed(crypto.getRandomValues(new Uint8Array(32)));
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 0, 500) };
  const store = new FakeStore();
  let ids = 0;
  const deps: HandshakeDeps = {
    domain: DOMAIN,
    prologue: PROLOGUE,
    keyring: new StaticKeyring([{
      version: 1,
      privateKey: noiseKey.privateKey,
      publicKey: noiseKey.publicKey,
      validAfter: new Date(0),
      rotatesAt: new Date(Date.UTC(2030, 0)),
      expiresAt: new Date(Date.UTC(2031, 0)),
      pqSigning,
    }]),
    store,
    ca: { seed: ca.privateKey, publicKey: ca.publicKey },
    autoApproveDevices: true,
    maxAutoDevicesPerUser: 0,
    sessionTtlSeconds: 60,
    keepaliveIntervalSeconds: 30,
    replay: new ReplayCache(10 * 60_000, 1000, () => clock.now),
    ikFreshnessMs: 5 * 60_000,
    newId: (context) => `${context.split(":")[0]}-${++ids}`,
    now: () => clock.now,
    ...overrides,
  };
  return { deps, store, clock, ca, serverStatic: noiseKey.publicKey };
}

/** What a fake client puts in its Hello. */
export interface FakeHelloOptions {
  pattern?: string;
  deviceId: string;
  /** 32-byte device seed (Ed25519 seed, X25519 static). */
  seed: Uint8Array;
  user?: Record<string, unknown>;
  certificate?: string;
  /** Edits the Hello object before it is encoded. */
  edit?: (hello: Record<string, unknown>) => void;
  /** The IK first-message payload (default: a fresh timestamp). */
  firstPayload?: Uint8Array;
  /** The client's ML-KEM key pair `e1`; required for a hybrid pattern (message 1 stays sync). */
  kemKeyPair?: KemKeyPair;
  now?: number;
}

/** One client: its Hello frame and the Noise state to finish the handshake with. */
export function fakeHello(serverStatic: Uint8Array, options: FakeHelloOptions) {
  const pattern = sessionPattern(options.pattern ?? "XK");
  const devicePublic = publicFromSeed(options.seed);
  const clientStatic = x25519PublicFromPrivate(options.seed);
  const noise = createHandshake({
    protocolName: pattern.protocolName,
    initiator: true,
    prologue: PROLOGUE,
    staticPrivate: options.seed,
    remoteStatic: serverStatic,
    kemKeyPair: options.kemKeyPair,
  });
  const context = zkpContext(DOMAIN, options.deviceId, devicePublic, clientStatic);
  const firstPayload = options.firstPayload ??
    (pattern.clientStaticInFirstMessage
      ? utf8(JSON.stringify({ timestamp: options.now ?? Date.now() }))
      : undefined);
  const hello: Record<string, unknown> = {
    pattern: pattern.name,
    supported_versions: [1],
    device_id: options.deviceId,
    handshake: toHex(noise.writeMessage(firstPayload)),
    client_static: toHex(clientStatic),
    device_public: toHex(devicePublic),
    zkp: zkpToJson(proveDeviceKey({ privateSeed: options.seed, publicKey: devicePublic, context })),
  };
  if (options.user) hello.user = options.user;
  options.edit?.(hello);
  let text = JSON.stringify(hello);
  if (options.certificate !== undefined) {
    text = text.slice(0, -1) + `,"certificate":${options.certificate}}`;
  }
  const frame = decoded({ type: FrameType.Hello, channel: 0, sequence: 1, payload: utf8(text) });
  return { frame, noise };
}

/** A frame as the connection hands it over (encoded, then decoded). */
export function decoded(frame: Frame): DecodedFrame {
  return decodeFrame(encodeFrame(frame))!.frame;
}

/**
 * Runs the handshake to the end: Hello, server Auth, client Auth when the
 * pattern has a third message, commit. Returns both transports and the Ack.
 */
export async function runHandshake(
  server: ServerHandshake,
  client: { frame: DecodedFrame; noise: Handshake },
) {
  const auth = await server.hello(client.frame);
  const reply = JSON.parse(new TextDecoder().decode(auth.payload));
  await client.noise.readMessageAsync(fromHex(reply.handshake));
  if (!client.noise.isFinished) {
    assertAwaitingAuth(server);
    const msg3 = toHex(client.noise.writeMessage());
    server.auth(decoded(controlFrame(FrameType.Auth, 0, 2, { handshake: msg3 })));
  }
  const established = await server.commit();
  const clientTransport: NoiseTransport = client.noise.split();
  const ack = JSON.parse(
    new TextDecoder().decode(
      decodeFrame(clientTransport.decrypt(established.transport.encrypt(encodeFrame(
        established.ack,
      ))))!.frame.payload,
    ),
  );
  return { established, clientTransport, ack, reply };
}

function assertAwaitingAuth(server: ServerHandshake): void {
  if (!server.awaitingAuth) throw new Error("server should be waiting for the client's Auth");
}
