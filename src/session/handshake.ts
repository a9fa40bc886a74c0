/**
 * Server side of the bootstrap (upstream §3) with the deliberate fixes in
 * docs/PROTOCOL.md: XK and IK both complete; the Noise-authenticated static
 * must equal `client_static`; no silent device-key overwrite; an existing
 * user's new device needs a certificate; nothing is written before the
 * client has proven its keys (XK: after message 3; IK: after message 1,
 * whose payload carries a fresh timestamp and whose replay is refused).
 *
 * This module runs the steps in order (Hello checks, key proof, replay,
 * version, the one transaction of writes, the Ack); the Noise exchange is
 * `noise_exchange.ts` (patterns from the Noise layer's table) and the
 * identity and certificate policy is `identity.ts`.
 *
 * @module
 */
import {
  certificateToJson,
  fromHex,
  fromUtf8,
  issueCertificate,
  type NoiseTransport,
  type SessionPattern,
  toHex,
  utf8,
  verifyDeviceKeyProof,
  zkpContext,
} from "../crypto/mod.ts";
import {
  type DecodedFrame,
  establishedAckFrameWithKeys,
  type Frame,
  FrameType,
  isSupportedProtocolVersion,
  negotiateProtocolVersion,
  SUPPORTED_PROTOCOL_VERSIONS,
  userSnapshot,
} from "../proto/mod.ts";
import type { HelloPayload } from "../proto/mod.ts";
import type { HandshakeCommitted, UserRecord } from "../storage/mod.ts";
import { HandshakeError } from "./errors.ts";
import { type HandshakeStore, type IdentityPlan, resolveIdentity } from "./identity.ts";
import type { NoiseKeyring } from "../crypto/mod.ts";
import { AckKeysCache } from "./ack_keys.ts";
import { readAuthHandshake, readHello } from "./hello_check.ts";
import { helloPattern, NoiseExchange } from "./noise_exchange.ts";
import type { ReplayCache } from "./replay.ts";

/** Everything a handshake needs from the server. */
export interface HandshakeDeps {
  domain: string;
  prologue: Uint8Array;
  keyring: NoiseKeyring;
  store: HandshakeStore;
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
  /** Post-quantum policy (`crypto.pq`); default `prefer`. */
  pq?: PqHandshakePolicy;
}

/**
 * `crypto.pq`: `off` refuses hybrid (`hfs`) patterns, `prefer` accepts both
 * (clients use a hybrid when offered), `require` refuses classical ones.
 */
export type PqMode = "off" | "prefer" | "require";

/** The post-quantum part of the handshake's dependencies. */
export interface PqHandshakePolicy {
  mode: PqMode;
  /**
   * Bounds the CPU hybrid Hellos may take (the server encapsulates and signs
   * before an XK client has proven anything): `admit()` before any work,
   * false to refuse. Absent: unbounded.
   */
  budget?: { admit(): boolean };
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
  /** True when the session came from a post-quantum hybrid (`hfs`) handshake. */
  postQuantum?: boolean;
}

/** Decisions taken at Hello, applied only once the client proved its keys. */
interface Plan extends IdentityPlan {
  hello: HelloPayload;
  protocolVersion: number;
  exchange: NoiseExchange;
  devicePublic: Uint8Array;
  sessionId: string;
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
    return this.#plan !== null && this.#plan.exchange.awaitingClient;
  }

  /** Processes the Hello; returns the Auth frame to send (plaintext). */
  async hello(frame: DecodedFrame): Promise<Frame> {
    const d = this.#deps;
    const hello = readHello(frame.control);
    const pattern = helloPattern(hello.pattern);
    const pq = d.pq ?? { mode: "prefer" };
    requirePqPolicy(pattern, pq.mode);
    // Refused before any work: the hybrid reply (encapsulation, signature) is the costly part.
    if (pattern.hybrid && pq.budget !== undefined && !pq.budget.admit()) {
      throw new HandshakeError(
        "pq_busy",
        `too many post-quantum handshakes right now (server.pq_handshake_cpu_percent): retry ` +
          `shortly${pq.mode === "require" ? "" : ` or use ${pattern.classical}`}`,
      );
    }
    const protocolVersion = negotiateVersion(hello);
    const msg1 = fromHex(hello.handshake);
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

    const exchange = NoiseExchange.readFirst(d, pattern, msg1, clientStatic);
    // Only now, with the proof and message 1 checked, is the message worth remembering.
    const seen = d.replay.check(msg1);
    if (seen === "replay") {
      throw new HandshakeError("replay", "replayed hello: this handshake message was already used");
    }
    if (seen === "full" && pattern.clientStaticInFirstMessage) {
      // Forgetting a live entry would let its Hello be replayed; refuse instead.
      throw new HandshakeError(
        "replay_cache_full",
        `too many ${pattern.name} handshakes right now (replay cache full): retry shortly`,
      );
    }
    const plan = await resolveIdentity(
      { ...d, caPublic: d.ca.publicKey },
      hello,
      devicePublic,
      // Re-read only when there is one: most Hellos carry none, and the parse costs.
      hello.certificate == null ? undefined : exactCertificate(frame.payload),
    );
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
    const msg2 = await exchange.reply((pqSignature) =>
      utf8(JSON.stringify(
        pqSignature === null ? noisePayload : { ...noisePayload, pq_signature: pqSignature },
      ))
    );
    this.#plan = {
      ...plan,
      hello,
      protocolVersion,
      exchange,
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
        server_static: toHex(exchange.key.publicKey),
        session: sessionId,
        supported_versions: [...SUPPORTED_PROTOCOL_VERSIONS],
      })),
    };
  }

  /** Processes the client's Auth (XK message 3). */
  auth(frame: DecodedFrame): void {
    const plan = this.#plan;
    if (!plan || !plan.exchange.awaitingClient) {
      throw new HandshakeError("unexpected_auth", "auth frame was not expected now");
    }
    plan.exchange.readFinal(fromHex(readAuthHandshake(frame.control)));
  }

  /** Applies the planned writes and returns the established session. */
  async commit(): Promise<Established> {
    const plan = this.#plan;
    if (!plan || !plan.exchange.finished) {
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
    const ack = establishedAckFrameWithKeys(
      {
        protocolVersion: plan.protocolVersion,
        sessionId: plan.sessionId,
        user,
        pairingRequired: pairingRequiredFlag,
        certificate: {
          json: certificateToJson(certificate),
          serial: certificate.serial,
          issuedAt: certificate.issued_at,
          expiresAt: certificate.expires_at,
        },
      },
      ackKeysCache(d).text(
        d.ca.publicKey,
        plan.exchange.key,
        d.keyring.active(),
        d.keepaliveIntervalSeconds,
      ),
    );
    return {
      deviceId,
      userId: user.userId,
      user,
      sessionId: plan.sessionId,
      protocolVersion: plan.protocolVersion,
      transport: plan.exchange.split(),
      ack,
      action: plan.deviceAction ?? (plan.certificate ? null : "certificate"),
      postQuantum: plan.exchange.pattern.hybrid,
    };
  }
}

/** Each server's (each dependency set's) Ack key text, made once per key and keyring state. */
const ackKeysCaches = new WeakMap<HandshakeDeps, AckKeysCache>();

function ackKeysCache(deps: HandshakeDeps): AckKeysCache {
  let cache = ackKeysCaches.get(deps);
  if (cache === undefined) {
    cache = new AckKeysCache();
    ackKeysCaches.set(deps, cache);
  }
  return cache;
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

/** Refuses a pattern the policy excludes, naming the config key and what would be accepted. */
function requirePqPolicy(pattern: SessionPattern, mode: PqMode): void {
  if (mode === "require" && !pattern.hybrid) {
    throw new HandshakeError(
      "pq_required",
      `this server requires a post-quantum hybrid handshake (crypto.pq = "require"): ` +
        `use ${pattern.name}hfs instead of ${pattern.name}`,
    );
  }
  if (mode === "off" && pattern.hybrid) {
    throw new HandshakeError(
      "pq_disabled",
      `post-quantum handshakes are disabled on this server (crypto.pq = "off"): ` +
        `use ${pattern.classical}`,
    );
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
