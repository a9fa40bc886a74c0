/**
 * What the REST API needs from the rest of the server. The composition root
 * (src/server/app.ts) builds one {@link ApiDeps}; tests may build their own.
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { FriendRequestRecord, Store, UserRecord } from "../storage/mod.ts";

/** One active Noise key: version, public key (hex) and its times (ISO 8601). */
export interface NoiseKeyDescription {
  version: number;
  public: string;
  valid_after: string;
  rotates_at: string;
  expires_at: string;
  /** ML-DSA-65 public key (hex) of this version: what hybrid handshakes are signed with. */
  pq_signing_public?: string;
}

/** Configuration values the API reads. */
export interface ApiConfig {
  /** `crypto.pq`: which handshake patterns the server accepts; default `prefer`. */
  pq?: "off" | "prefer" | "require";
  /** `limits.pairing_ttl`: default and upper bound of a pairing code's lifetime, seconds. */
  pairingTtlSeconds: number;
  autoApproveDevices: boolean;
  maxAutoDevicesPerUser: number;
  /** `rotation.device.*`. */
  rotation: {
    enabled: boolean;
    minIntervalSeconds: number;
    proofTtlSeconds: number;
    /** Channel of the KeyUpdate frame pushed to a rotated device. */
    notifyChannel: number;
  };
  /**
   * `uploads.*`: where avatars are written, the public URL prefix they get,
   * and the per-user quota (one avatar of at most this many bytes; default 5 MiB).
   */
  uploads: { dir: string; baseUrl: string; maxBytesPerUser?: number };
  presenceTtlSeconds: number;
  /** Session lifetime (`server.keepalive`). */
  sessionTtlSeconds: number;
  keepaliveIntervalSeconds: number;
}

/** A ledger entry sink (the ledger issue plugs in here). */
export interface ApiLedger {
  record(metadata: Record<string, unknown>, digest?: Uint8Array): void | Promise<void>;
}

/** Dependencies of {@link createApi}. */
export interface ApiDeps {
  store: Store;
  /** `server.domain`. */
  domain: string;
  /** The device CA (= federation signing key): 32-byte Ed25519 seed and its public key. */
  ca: { seed: Uint8Array; publicKey: Uint8Array };
  config: ApiConfig;
  /** The active Noise keys (newest first). */
  noise(): { noise_public: string; noise_keys: NoiseKeyDescription[] };
  /**
   * Delivers a frame to a device: live when connected, else queued; resolves
   * once durable. `senderUser` (a user relaying through the API) counts it
   * against that user's offline-queue bound.
   */
  deliverToDevice(deviceId: string, frame: Frame, senderUser?: string): Promise<void>;
  /** Closes every live connection of a device (on any instance); only revocation does today. */
  disconnectDevice(deviceId: string, reason: "revoked"): void | Promise<void>;
  /**
   * A user's friends list lost entries: routes stop delivering between users
   * who no longer reach each other (on every instance).
   */
  friendshipsEnded?(): void | Promise<void>;
  /** True for a valid admin bearer token (`admin.token`). */
  verifyAdminToken(token: string): boolean | Promise<boolean>;
  /** Counters for `/api/security-stats` (missing keys read as 0). */
  securityStats?(): Record<string, number>;
  /** A fresh id (upstream `generate_id`). */
  newId(context: string): string;
  /** Unix milliseconds. */
  now(): number;
  log: Logger;
  /** Called after every applied device key rotation (metrics). */
  onDeviceRotation?(): void;
  ledger?: ApiLedger;
  /**
   * Per-user budget of key-package takes (`GET /api/e2e/key-packages/{id}`),
   * so a friend cannot drain a device's one-time packages; absent → unlimited.
   */
  keyPackageTakes?: {
    check(key: string): { allowed: true } | { allowed: false; retryAfterMs: number };
  };
  /** Friend requests to and from other domains; absent → 501 for `handle@other.domain`. */
  federation?: ApiFederation;
  /** `/api/p2p/assist` content (src/p2p); absent → 404. */
  p2p?: ApiP2p;
}

/** What `/api/p2p/assist` needs from the server's P2P part. */
export interface ApiP2p {
  /** `crypto.prologue`, hex. */
  readonly prologueHex: string;
  /** The assist sections for the caller's device, or how long it must wait (its rate limit). */
  assist(
    deviceId: string,
    request: { fec?: { mtu?: number; repair_overhead?: number }; min_paths?: number },
  ): Promise<{ body: Record<string, unknown> } | { retryAfterMs: number }>;
}

/** Outcome of a federated friend-request operation. */
export type ApiFederationResult =
  | { ok: true; request: FriendRequestRecord }
  | { ok: false; status: number; detail: string };

/** What the API needs from federation (src/federation implements it). */
export interface ApiFederation {
  /** Queues a friend request from `caller` to `handle@domain`. */
  sendFriendRequest(
    caller: UserRecord,
    handle: string,
    domain: string,
    message: string | null,
  ): Promise<ApiFederationResult>;
  /**
   * Takes one KeyPackage of `deviceId` on `domain` from that domain's server
   * (docs/PROTOCOL.md "End-to-end encryption"); absent → 501.
   */
  takeKeyPackage?(
    caller: UserRecord,
    deviceId: string,
    domain: string,
  ): Promise<
    { ok: true; keyPackage: Record<string, unknown> } | {
      ok: false;
      status: number;
      detail: string;
    }
  >;
  /** Queues `frame` for devices of other domains (signed relay events); absent → 501. */
  relay?(fromDevice: string, members: string[], frame: Frame): Promise<void>;
  /** The devices of `handle` on `domain` from that domain's server; absent → 501. */
  listDevices?(
    caller: UserRecord,
    handle: string,
    domain: string,
  ): Promise<
    { ok: true; devices: Record<string, unknown> } | { ok: false; status: number; detail: string }
  >;
  /** Accepts the pending request of `remoteUser` (`handle@domain`) and tells its server. */
  acceptFriendRequest(caller: UserRecord, remoteUser: string): Promise<ApiFederationResult>;
}
