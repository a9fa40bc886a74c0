/**
 * Server side of the bootstrap (upstream §3) with the deliberate fixes in
 * docs/PROTOCOL.md: XK and IK both complete; the Noise-authenticated static
 * must equal `client_static`; no silent device-key overwrite; an existing
 * user's new device needs a certificate; nothing is written before the
 * client has proven its keys (XK: after message 3; IK: after message 1,
 * whose payload carries a fresh timestamp and whose replay is refused).
 *
 * @module
 */
import {
  certificateToJson,
  constantTimeEqual,
  createHandshake,
  type DeviceCertificate,
  fromHex,
  fromUtf8,
  type Handshake,
  issueCertificate,
  type NoiseTransport,
  parseCertificate,
  toHex,
  utf8,
  verifyCertificate,
  verifyDeviceKeyProof,
  zkpContext,
} from "../crypto/mod.ts";
import {
  type DecodedFrame,
  establishedAckFrame,
  type Frame,
  FrameType,
  isSupportedProtocolVersion,
  negotiateProtocolVersion,
  NOISE_PROTOCOL_NAMES,
  parseControl,
  SUPPORTED_PROTOCOL_VERSIONS,
  userSnapshot,
} from "../proto/mod.ts";
import type { HelloPayload } from "../proto/mod.ts";
import type { DeviceRecord, HandshakeCommitted, Store, UserRecord } from "../storage/mod.ts";
import { HandshakeError, pairingRequired } from "./errors.ts";
import { describeNoiseKey, type NoiseKey, type NoiseKeyring } from "./keyring.ts";
import type { ReplayCache } from "./replay.ts";

/** Everything a handshake needs from the server. */
export interface HandshakeDeps {
  domain: string;
  prologue: Uint8Array;
  keyring: NoiseKeyring;
  store: Store;
  /** Device CA (= federation key): Ed25519 seed and public key. */
  ca: { seed: Uint8Array; publicKey: Uint8Array };
  autoApproveDevices: boolean;
  /** 0 = unlimited. */
  maxAutoDevicesPerUser: number;
  sessionTtlSeconds: number;
  keepaliveIntervalSeconds: number;
  replay: ReplayCache;
  /** How far an IK timestamp may be from our clock. */
  ikFreshnessMs: number;
  newId: (context: string) => string;
  now: () => number;
}

/** The outcome of a completed handshake. */
export interface Established {
  deviceId: string;
  userId: string;
  user: UserRecord;
  sessionId: string;
  protocolVersion: number;
  transport: NoiseTransport;
  /** The Ack to send as the first transport message (sequence set by the caller). */
  ack: Frame;
  /** What the handshake changed, for the ledger. */
  action: "register" | "rotate" | "certificate" | null;
}

/** Decisions taken at Hello, applied only once the client proved its keys. */
interface Plan {
  hello: HelloPayload;
  protocolVersion: number;
  key: NoiseKey;
  noise: Handshake;
  clientStatic: Uint8Array;
  devicePublic: Uint8Array;
  sessionId: string;
  user: UserRecord;
  createUser: boolean;
  device: DeviceRecord | null;
  deviceAction: "register" | "rotate" | null;
  certificate: DeviceCertificate | null;
}

/** One server-side handshake. Call {@link hello}, then {@link auth} if {@link awaitingAuth}, then {@link commit}. */
export class ServerHandshake {
  #deps: HandshakeDeps;
  #plan: Plan | null = null;

  constructor(deps: HandshakeDeps) {
    this.#deps = deps;
  }

  /** True (XK) when the client still owes its Auth (Noise message 3). */
  get awaitingAuth(): boolean {
    return this.#plan !== null && !this.#plan.noise.isFinished;
  }

  /** Processes the Hello; returns the Auth frame to send (plaintext). */
  async hello(frame: DecodedFrame): Promise<Frame> {
    const d = this.#deps;
    const parsed = parseControl(FrameType.Hello, frame.control);
    if (!parsed.ok) throw new HandshakeError("invalid_hello", `invalid hello: ${parsed.error}`);
    const hello = parsed.value as HelloPayload;
    const protocolVersion = negotiateVersion(hello);
    const msg1 = fromHex(hello.handshake);
    if (!d.replay.remember(toHex(msg1))) {
      throw new HandshakeError("replay", "replayed hello: this handshake message was already used");
    }
    const clientStatic = fromHex(hello.client_static, 32);
    const devicePublic = fromHex(hello.device_public, 32);
    const context = zkpContext(d.domain, hello.device_id, devicePublic, clientStatic);
    const proofOk = verifyDeviceKeyProof({
      publicKey: devicePublic,
      context,
      commitment: fromHex(hello.zkp.commitment, 32),
      response: fromHex(hello.zkp.response, 32),
    });
    if (!proofOk) throw new HandshakeError("zkp", "device key proof did not verify");

    const { key, noise, payload } = this.#readFirstMessage(hello.pattern, msg1);
    if (hello.pattern === "IK") {
      requireStaticMatch(noise, clientStatic);
      requireFreshTimestamp(payload, d.now(), d.ikFreshnessMs);
    }

    const plan = await this.#resolveIdentity(hello, devicePublic, exactCertificate(frame.payload));
    // The session id is the REST bearer token: random, never `newId` (a hash of the
    // device id and the clock, which anyone who knows both could recompute).
    const sessionId = toHex(crypto.getRandomValues(new Uint8Array(32)));
    const noisePayload = {
      domain: d.domain,
      protocol_version: protocolVersion,
      session: sessionId,
      user: userSnapshot(plan.user),
      user_id: plan.user.userId,
    };
    const msg2 = noise.writeMessage(utf8(JSON.stringify(noisePayload)));
    this.#plan = {
      ...plan,
      hello,
      protocolVersion,
      key,
      noise,
      clientStatic,
      devicePublic,
      sessionId,
    };
    return {
      type: FrameType.Auth,
      channel: frame.channel,
      sequence: 0,
      payload: utf8(JSON.stringify({
        device_id: hello.device_id,
        handshake: toHex(msg2),
        protocol_version: protocolVersion,
        server_static: toHex(key.publicKey),
        session: sessionId,
        supported_versions: [...SUPPORTED_PROTOCOL_VERSIONS],
      })),
    };
  }

  /** Processes the client's Auth (XK message 3). */
  auth(frame: DecodedFrame): void {
    const plan = this.#plan;
    if (!plan || plan.noise.isFinished) {
      throw new HandshakeError("unexpected_auth", "auth frame was not expected now");
    }
    const parsed = parseControl(FrameType.Auth, frame.control);
    if (!parsed.ok) throw new HandshakeError("invalid_auth", `invalid auth: ${parsed.error}`);
    try {
      plan.noise.readMessage(fromHex((parsed.value as { handshake: string }).handshake));
    } catch {
      throw new HandshakeError("noise", "noise message 3 did not verify");
    }
    requireStaticMatch(plan.noise, plan.clientStatic);
  }

  /** Applies the planned writes and returns the established session. */
  async commit(): Promise<Established> {
    const plan = this.#plan;
    if (!plan || !plan.noise.isFinished) {
      throw new HandshakeError("incomplete", "handshake incomplete");
    }
    const d = this.#deps;
    const now = d.now();
    const nowDate = new Date(now);
    const deviceId = plan.hello.device_id;
    const profile = plan.hello.user;
    const patchProfile = !plan.createUser &&
      (profile?.display_name != null || profile?.avatar_url != null);
    let committed: HandshakeCommitted;
    try {
      // One transaction for every write of the handshake, and the reads the Ack needs.
      committed = await d.store.commitHandshake({
        createUser: plan.createUser ? plan.user : undefined,
        insertDevice: plan.deviceAction === "register"
          ? {
            deviceId,
            userId: plan.user.userId,
            publicKey: plan.devicePublic,
            status: "active",
            createdAt: nowDate,
          }
          : undefined,
        updateDeviceKey: plan.deviceAction === "rotate"
          ? { deviceId, publicKey: plan.devicePublic }
          : undefined,
        updateProfile: patchProfile
          ? {
            userId: plan.user.userId,
            patch: {
              displayName: profile?.display_name ?? undefined,
              avatarUrl: profile?.avatar_url ?? undefined,
            },
            now: nowDate,
          }
          : undefined,
        keyEvent: plan.deviceAction
          ? {
            eventId: d.newId(`dke:${deviceId}`),
            deviceId,
            publicKey: plan.devicePublic,
            recordedAt: nowDate,
          }
          : undefined,
        session: {
          sessionId: plan.sessionId,
          userId: plan.user.userId,
          deviceId,
          tlsFingerprint: "",
          createdAt: nowDate,
          ttlSeconds: d.sessionTtlSeconds,
        },
      });
    } catch (error) {
      if (error instanceof Error && error.name === "StoreConflictError") {
        throw new HandshakeError("conflict", `registration conflict: ${error.message}`);
      }
      throw new HandshakeError("storage", "storage unavailable, try again later");
    }
    const certificate = plan.certificate ?? issueCertificate({
      caSeed: d.ca.seed,
      userId: plan.user.userId,
      deviceId,
      publicKey: plan.devicePublic,
      now: Math.floor(now / 1000),
    });
    const user = plan.createUser ? plan.user : committed.user ?? plan.user;
    const activeDevices = committed.activeDevices;
    const pairingRequiredFlag = !d.autoApproveDevices ||
      (d.maxAutoDevicesPerUser > 0 && activeDevices >= d.maxAutoDevicesPerUser);
    const ack = establishedAckFrame({
      protocolVersion: plan.protocolVersion,
      sessionId: plan.sessionId,
      user,
      pairingRequired: pairingRequiredFlag,
      deviceCaPublic: toHex(d.ca.publicKey),
      noiseKey: {
        publicKey: toHex(plan.key.publicKey),
        version: plan.key.version,
        rotatesAt: plan.key.rotatesAt,
        expiresAt: plan.key.expiresAt,
      },
      noiseKeys: d.keyring.active().map((k) => describeNoiseKey(k, toHex)),
      keepaliveIntervalSeconds: d.keepaliveIntervalSeconds,
      certificate: {
        json: certificateToJson(certificate),
        serial: certificate.serial,
        issuedAt: certificate.issued_at,
        expiresAt: certificate.expires_at,
      },
    });
    return {
      deviceId,
      userId: user.userId,
      user,
      sessionId: plan.sessionId,
      protocolVersion: plan.protocolVersion,
      transport: plan.noise.split(),
      ack,
      action: plan.deviceAction ?? (plan.certificate ? null : "certificate"),
    };
  }

  #readFirstMessage(pattern: "XK" | "IK", msg1: Uint8Array) {
    const d = this.#deps;
    for (const key of d.keyring.active()) {
      const noise = createHandshake({
        protocolName: NOISE_PROTOCOL_NAMES[pattern],
        initiator: false,
        prologue: d.prologue,
        staticPrivate: key.privateKey,
      });
      try {
        const payload = noise.readMessage(msg1);
        return { key, noise, payload };
      } catch {
        // Wrong key version (or garbage): try the next active key.
      }
    }
    throw new HandshakeError("noise", "noise message 1 did not decrypt with any active server key");
  }

  async #resolveIdentity(
    hello: HelloPayload,
    devicePublic: Uint8Array,
    rawCertificate: unknown,
  ): Promise<Pick<Plan, "user" | "createUser" | "device" | "deviceAction" | "certificate">> {
    const d = this.#deps;
    const store = d.store;
    const nowSeconds = Math.floor(d.now() / 1000);
    const hintId = hello.user?.id ?? hello.user?.user_id ?? null;
    const hintHandle = hello.user?.handle ?? null;
    let device: DeviceRecord | null;
    try {
      device = await store.getDevice(hello.device_id);
    } catch {
      throw new HandshakeError("storage", "storage unavailable, try again later");
    }
    const presented = hello.certificate === undefined || hello.certificate === null
      ? null
      : this.#checkCertificate(
        rawCertificate ?? hello.certificate,
        hello.device_id,
        devicePublic,
        nowSeconds,
      );

    if (device) {
      if (device.status !== "active") {
        throw new HandshakeError("device_inactive", `device is ${device.status}`);
      }
      const user = await store.getUser(device.userId);
      if (!user) throw new HandshakeError("unknown_user", "device owner not found");
      if (hintId !== null && hintId !== user.userId) {
        throw new HandshakeError("user_mismatch", "user id does not match the device owner");
      }
      if (hintHandle !== null && hintHandle !== user.handle) {
        throw new HandshakeError("user_mismatch", "handle does not match the device owner");
      }
      if (presented && presented.user_id !== user.userId) {
        throw new HandshakeError("certificate", "certificate was issued to another user");
      }
      const keyChanged = !constantTimeEqual(device.publicKey, devicePublic);
      if (keyChanged && !presented) {
        throw new HandshakeError(
          "key_mismatch",
          "device key differs from the registered one; present a certificate for the new key",
        );
      }
      if (keyChanged && presented && !(await issuedSinceKeyChange(store, device, presented))) {
        // Certificates are never revoked: one the old key got before a rotation
        // must not turn the device back to that key.
        throw new HandshakeError("certificate", "certificate predates the device's current key");
      }
      return {
        user,
        createUser: false,
        device,
        deviceAction: keyChanged ? "rotate" : null,
        certificate: presented,
      };
    }

    // Unknown device.
    if (presented) {
      const user = await store.getUser(presented.user_id);
      if (!user) throw new HandshakeError("unknown_user", "certificate names an unknown user");
      return {
        user,
        createUser: false,
        device: null,
        deviceAction: "register",
        certificate: presented,
      };
    }
    if (hintId !== null) {
      const user = await store.getUser(hintId);
      if (user) {
        throw pairingRequired("this user exists: pair the new device or present a certificate");
      }
      throw new HandshakeError("unknown_user", "user id not found");
    }
    if (hintHandle === null || hintHandle.trim() === "") {
      throw new HandshakeError("invalid_hello", "a new device must name a user handle to register");
    }
    const handle = hintHandle.trim();
    const existing = await store.getUserByHandle(handle, d.domain);
    if (existing) {
      throw pairingRequired("this handle is taken: pair the new device or present a certificate");
    }
    if (!d.autoApproveDevices) {
      throw pairingRequired("self-registration is disabled on this server");
    }
    const now = new Date(d.now());
    return {
      user: {
        userId: d.newId(`user:${handle}`),
        handle,
        displayName: hello.user?.display_name ?? null,
        avatarUrl: hello.user?.avatar_url ?? null,
        domain: d.domain,
        createdAt: now,
        updatedAt: now,
      },
      createUser: true,
      device: null,
      deviceAction: "register",
      certificate: null,
    };
  }

  #checkCertificate(
    raw: unknown,
    deviceId: string,
    devicePublic: Uint8Array,
    nowSeconds: number,
  ): DeviceCertificate {
    let cert: DeviceCertificate;
    try {
      cert = parseCertificate(raw as object);
    } catch (error) {
      throw new HandshakeError("certificate", `invalid certificate: ${(error as Error).message}`);
    }
    const result = verifyCertificate(cert, {
      caPublic: this.#deps.ca.publicKey,
      now: nowSeconds,
      deviceId,
      publicKey: devicePublic,
    });
    if (!result.ok) {
      throw new HandshakeError("certificate", `certificate rejected: ${result.reason}`);
    }
    return cert;
  }
}

/** True when `cert` was issued no earlier than the device's latest key change. */
async function issuedSinceKeyChange(
  store: Store,
  device: DeviceRecord,
  cert: DeviceCertificate,
): Promise<boolean> {
  let latest;
  try {
    latest = await store.latestDeviceKeyEvent(device.deviceId);
  } catch {
    throw new HandshakeError("storage", "storage unavailable, try again later");
  }
  return latest === null || cert.issued_at >= Math.floor(latest.recordedAt.getTime() / 1000);
}

/**
 * The Hello's certificate with its u64 serial intact: JSON.parse would round
 * serials above 2^53, so re-read them from the source text.
 */
function exactCertificate(payload: Uint8Array): unknown {
  type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;
  const reviver: Reviver = (key, value, context) =>
    key === "serial" && typeof value === "number" && context?.source !== undefined
      ? BigInt(context.source)
      : value;
  try {
    const hello = JSON.parse(fromUtf8(payload), reviver as Parameters<typeof JSON.parse>[1]);
    return (hello as { certificate?: unknown }).certificate;
  } catch {
    return undefined;
  }
}

function negotiateVersion(hello: HelloPayload): number {
  if (hello.supported_versions !== undefined) {
    const version = negotiateProtocolVersion(hello.supported_versions);
    if (version === null || version === undefined) {
      throw new HandshakeError("version", "protocol negotiation failed: no common version");
    }
    return version;
  }
  if (hello.protocol_version !== undefined) {
    if (!isSupportedProtocolVersion(hello.protocol_version)) {
      throw new HandshakeError(
        "version",
        `protocol negotiation failed: version ${hello.protocol_version} unsupported`,
      );
    }
    return hello.protocol_version;
  }
  return 1;
}

function requireStaticMatch(noise: Handshake, clientStatic: Uint8Array): void {
  const remote = noise.remoteStatic;
  if (!remote || !constantTimeEqual(remote, clientStatic)) {
    throw new HandshakeError("static_mismatch", "noise static key does not match client_static");
  }
}

function requireFreshTimestamp(payload: Uint8Array, now: number, windowMs: number): void {
  let timestamp: unknown;
  try {
    timestamp = (JSON.parse(fromUtf8(payload)) as { timestamp?: unknown }).timestamp;
  } catch {
    timestamp = undefined;
  }
  if (typeof timestamp !== "number" || !Number.isFinite(timestamp)) {
    throw new HandshakeError("stale", 'IK message 1 must carry {"timestamp": unix_ms}');
  }
  if (Math.abs(now - timestamp) > windowMs) {
    throw new HandshakeError("stale", "IK message 1 timestamp is outside the accepted window");
  }
}
