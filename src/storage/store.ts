/**
 * The durable-state seam. The embedded SQLite store and the PostgreSQL store
 * both implement {@link Store}; one conformance suite runs against both.
 * All methods are async so a networked backend fits behind the same shape.
 *
 * Times are `Date`s; binary values are `Uint8Array`s; ids are strings.
 *
 * @module
 */

/** An account. `handle` is unique per domain. */
export interface UserRecord {
  userId: string;
  handle: string;
  displayName: string | null;
  avatarUrl: string | null;
  domain: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Lifecycle of a device row. */
export type DeviceStatus = "active" | "revoked" | "diagnostic";

/** A device of a user, identified by its Ed25519 public key. */
export interface DeviceRecord {
  deviceId: string;
  userId: string;
  publicKey: Uint8Array;
  status: DeviceStatus;
  createdAt: Date;
}

/** One change of a device's public key (registration, rotation, certificate). */
export interface DeviceKeyEvent {
  eventId: string;
  deviceId: string;
  publicKey: Uint8Array;
  recordedAt: Date;
}

/** A session created by a completed handshake; its id is also the REST bearer token. */
export interface SessionRecord {
  sessionId: string;
  userId: string;
  deviceId: string;
  tlsFingerprint: string;
  createdAt: Date;
  ttlSeconds: number;
}

/** A channel's routing entry: who receives frames sent on it. */
export interface RouteRecord {
  channel: number;
  members: string[];
  groupId: string | null;
}

/** Role of a group member. */
export type GroupRole = "owner" | "admin" | "member";

/** A chat group. */
export interface GroupRecord {
  groupId: string;
  ownerDevice: string;
  createdAt: Date;
}

/** A device's membership in a group. */
export interface GroupMemberRecord {
  groupId: string;
  deviceId: string;
  role: GroupRole;
  joinedAt: Date;
}

/** A frame waiting in a device's offline queue. */
export interface OfflineEnvelope {
  envelopeId: string;
  /** Recipient device. */
  deviceId: string;
  /** The encoded CCP-1 frame (with the sender's sequence). */
  payload: Uint8Array;
  deliverAfter: Date;
  expiresAt: Date;
  /** The user whose frame this is (for the per-sender quota); empty or absent for the server's own. */
  senderUser?: string;
}

/** What part of the offline queue someone holds: rows and payload bytes. */
export interface QueueUsage {
  frames: number;
  bytes: number;
}

/** Offline-queue usage for a quota check (unexpired rows only). */
export interface OfflineQueueUsage {
  /** Per recipient device asked about (absent: nothing queued). */
  recipients: Map<string, QueueUsage>;
  /** Everything queued by the sender user, in every queue. */
  sender: QueueUsage;
}

/** A queued envelope as read back: `position` orders a device's queue (FIFO). */
export interface StoredEnvelope extends OfflineEnvelope {
  position: bigint;
}

/** A versioned server secret (Noise static keys, admin token hashes). */
export interface ServerSecretRecord {
  name: string;
  version: number;
  secret: Uint8Array;
  public: Uint8Array | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  validAfter: Date;
  rotatesAt: Date;
  expiresAt: Date;
}

/** Partial profile update; `undefined` fields are left as they are. */
export interface ProfilePatch {
  displayName?: string | null;
  avatarUrl?: string | null;
}

/** A pairing code issued by a device for adding another device to its user. */
export interface PairingRecord {
  pairCode: string;
  userId: string;
  issuerDeviceId: string;
  issuedAt: Date;
  expiresAt: Date;
  redeemedAt: Date | null;
  redeemedDeviceId: string | null;
  /** Public key of the device that redeemed the code. */
  publicKey: Uint8Array | null;
  /** Claims tried so far, successful or not. */
  attempts: number;
}

/** Claims a pairing code may take before it is dead. */
export const PAIRING_MAX_ATTEMPTS = 5;

/**
 * Pending codes (unredeemed, unexpired, claims left) one user may hold:
 * issuing one more deletes that user's oldest pending code (#19 §3).
 */
export const MAX_PENDING_PAIRINGS_PER_USER = 5;

/**
 * How long an idempotency key is kept. The only keys today are federation
 * event ids, which a peer's outbox retries for up to a day (re-signed each
 * time, so the freshness window does not stop them): two days leaves a
 * margin. Purged by {@link Store.purgeIdempotencyKeys}.
 */
export const IDEMPOTENCY_KEY_RETENTION_MS = 2 * 86_400_000;

/** Why {@link Store.claimPairing} refused a code. */
export type PairingClaimFailure = "not_found" | "redeemed" | "attempts_exhausted" | "expired";

/** Outcome of {@link Store.claimPairing}. */
export type PairingClaimResult =
  | { ok: true; pairing: PairingRecord; device: DeviceRecord }
  | { ok: false; reason: PairingClaimFailure };

/** One entry of a user's friends list. */
export interface FriendEntry {
  userId: string;
  alias: string | null;
}

/** Lifecycle of a friend request. */
export type FriendRequestStatus = "pending" | "accepted" | "rejected";

/** A friend request from one user to another (either may be remote). */
export interface FriendRequestRecord {
  id: string;
  fromUserId: string;
  toUserId: string;
  status: FriendRequestStatus;
  message: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A device's post-quantum public keys: ML-KEM-768 (1184 B) and ML-DSA-65
 * (1952 B), with the device's Ed25519 signature over them (64 B; what it
 * covers is the API's business, the store keeps the bytes).
 */
export interface DevicePqKeys {
  deviceId: string;
  kemPublic: Uint8Array;
  signaturePublic: Uint8Array;
  deviceSignature: Uint8Array;
  updatedAt: Date;
}

/**
 * An MLS KeyPackage a device published (docs/PROTOCOL.md "End-to-end
 * encryption"): the bytes as uploaded, the device key's signature over them,
 * and what the server read from them.
 */
export interface KeyPackageRecord {
  deviceId: string;
  /** SHA-256 of `data`: a device stores each distinct package once. */
  packageHash: Uint8Array;
  data: Uint8Array;
  /** The device's Ed25519 signature (`src/crypto/device_key_package.ts`). */
  deviceSignature: Uint8Array;
  cipherSuite: number;
  /** Handed out without being consumed once no one-time package is left; one per device. */
  lastResort: boolean;
  createdAt: Date;
  /** The package's lifetime end (`not_after`); never handed out from then on. */
  expiresAt: Date;
}

/** A device's unexpired key packages. */
export interface KeyPackageStock {
  oneTime: number;
  lastResort: boolean;
}

/** Outcome of {@link Store.storeKeyPackages}. */
export type KeyPackageStoreResult =
  | { ok: true; stored: number; stock: KeyPackageStock }
  /** Over the per-device bound: nothing was written. */
  | { ok: false; stock: KeyPackageStock };

/** Past `expiresAt` values clamp to this (9999-12-31T23:59:59Z): every backend stores it. */
export const KEY_PACKAGE_MAX_EXPIRY = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/** Audit row of one device key rotation. */
export interface DeviceRotationRecord {
  rotationId: string;
  deviceId: string;
  oldPublicKey: Uint8Array;
  newPublicKey: Uint8Array;
  signature: Uint8Array;
  nonce: Uint8Array | null;
  proofExpiresAt: Date;
  appliedAt: Date;
}

/** Input of {@link Store.rotateDeviceKey}. */
export interface DeviceKeyRotation {
  deviceId: string;
  newPublicKey: Uint8Array;
  /** Key event recorded with the rotation (its `publicKey` is the new key). */
  event: DeviceKeyEvent;
  /** Audit row; its `oldPublicKey` must be the device's current key. */
  audit: DeviceRotationRecord;
}

/** Trust state of a federation peer row (only `active` peers are accepted). */
export type FederationPeerStatus = "active" | "pending" | "blocked";

/** A federation peer known to the store (peers may also come from the configuration). */
export interface FederationPeerRecord {
  /** Lower-case domain. */
  domain: string;
  /** Base URL of the peer, e.g. `https://b.example:8443`. */
  endpoint: string;
  /** The peer's federation (device CA) Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  status: FederationPeerStatus;
  updatedAt: Date;
}

/** A signed federation message waiting for delivery to a peer. */
export interface FederationOutboxRecord {
  outboxId: string;
  destinationDomain: string;
  /** The peer's base URL at enqueue time. */
  endpoint: string;
  /**
   * The request body to POST, as JSON text. A backend may normalise key order
   * and whitespace (PostgreSQL JSONB), never values: signatures cover the
   * canonical form, so that is harmless.
   */
  payload: string;
  /** The peer's public key at enqueue time. */
  publicKey: Uint8Array;
  /** Delivery attempts claimed so far. */
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
}

/**
 * The writes of one completed device handshake, applied by
 * {@link Store.commitHandshake} in a single transaction, in this order.
 */
export interface HandshakeWrites {
  /** A new user (self-registration). */
  createUser?: UserRecord;
  /** A new device. */
  insertDevice?: DeviceRecord;
  /** A known device whose key changes (a missing device is a no-op). */
  updateDeviceKey?: { deviceId: string; publicKey: Uint8Array };
  /** A profile patch of an existing user (a missing user is a no-op). */
  updateProfile?: { userId: string; patch: ProfilePatch; now: Date };
  /** The key event of a registration or rotation. */
  keyEvent?: DeviceKeyEvent;
  /** The new session (inserted or replaced, as {@link Store.putSession}). */
  session: SessionRecord;
}

/** What {@link Store.commitHandshake} reads back inside its transaction. */
export interface HandshakeCommitted {
  /** The session's user after the writes (null only if it does not exist). */
  user: UserRecord | null;
  /** Active devices of that user after the writes. */
  activeDevices: number;
}

/**
 * What a {@link Store.commitHandshake} that created the session's user
 * reads back, known without reading: the user as inserted, and its one
 * device (the one inserted with it). Null when the writes did not create
 * that user, so the backend must read. Saves the read-after-write on every
 * registration.
 */
export function committedNewUser(writes: HandshakeWrites): HandshakeCommitted | null {
  const user = writes.createUser;
  if (user === undefined || user.userId !== writes.session.userId) return null;
  const device = writes.insertDevice;
  const ownDevice = device !== undefined && device.userId === user.userId;
  return { user, activeDevices: ownDevice && device.status === "active" ? 1 : 0 };
}

/** Error a store raises for a uniqueness or foreign-key conflict. */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreConflictError";
  }
}

/** Durable state of the server. Implementations: SQLite (embedded), PostgreSQL. */
export interface Store {
  /** Backend name for health output: "sqlite" | "postgres". */
  readonly backend: string;

  /** Cheap round trip to prove the backend answers (readiness). */
  ping(): Promise<void>;
  /** Releases connections / file handles. */
  close(): Promise<void>;

  // users
  createUser(user: UserRecord): Promise<void>;
  getUser(userId: string): Promise<UserRecord | null>;
  getUserByHandle(handle: string, domain: string): Promise<UserRecord | null>;
  updateUserProfile(userId: string, patch: ProfilePatch, now: Date): Promise<void>;
  listUsers(limit: number, offset: number): Promise<UserRecord[]>;

  // devices
  getDevice(deviceId: string): Promise<DeviceRecord | null>;
  /**
   * Stores (inserts or replaces) a device's post-quantum keys. Raises
   * {@link StoreConflictError} when the device does not exist.
   */
  putDevicePqKeys(keys: DevicePqKeys): Promise<void>;
  /** A device's post-quantum keys, or null when it published none. */
  getDevicePqKeys(deviceId: string): Promise<DevicePqKeys | null>;
  insertDevice(device: DeviceRecord): Promise<void>;
  updateDeviceKey(deviceId: string, publicKey: Uint8Array): Promise<void>;
  setDeviceStatus(deviceId: string, status: DeviceStatus): Promise<void>;
  listDevicesForUser(userId: string): Promise<DeviceRecord[]>;
  countActiveDevices(userId: string): Promise<number>;
  recordDeviceKeyEvent(event: DeviceKeyEvent): Promise<void>;
  latestDeviceKeyEvent(deviceId: string): Promise<DeviceKeyEvent | null>;

  // handshake
  /**
   * Applies `writes` all or nothing in one transaction (one round trip's worth
   * of statements instead of one commit each), then reads the session user
   * and its active device count in the same transaction. Conflict, with
   * nothing written, when any insert conflicts (as the single-row methods).
   */
  commitHandshake(writes: HandshakeWrites): Promise<HandshakeCommitted>;

  // sessions
  /** Inserts or replaces (refresh) a session. */
  putSession(session: SessionRecord): Promise<void>;
  getSession(sessionId: string): Promise<SessionRecord | null>;
  deleteSessionsForDevice(deviceId: string): Promise<void>;
  purgeExpiredSessions(now: Date): Promise<number>;

  // channel routes
  getRoute(channel: number): Promise<RouteRecord | null>;
  /** Inserts or replaces the route of `route.channel`. */
  putRoute(route: RouteRecord): Promise<void>;
  deleteRoute(channel: number): Promise<void>;

  // groups
  /** Creates the group and its initial members atomically; conflict if it exists. */
  createGroup(group: GroupRecord, members: GroupMemberRecord[]): Promise<void>;
  getGroup(groupId: string): Promise<GroupRecord | null>;
  listGroupMembers(groupId: string): Promise<GroupMemberRecord[]>;
  upsertGroupMember(member: GroupMemberRecord): Promise<void>;
  removeGroupMember(groupId: string, deviceId: string): Promise<void>;

  // offline queue
  /** Stores envelopes atomically (all or none). */
  enqueueOffline(envelopes: OfflineEnvelope[]): Promise<void>;
  /**
   * Oldest-first envelopes of a device that are deliverable at `now` and not
   * expired, with `position > afterPosition` when given. Does not remove them.
   */
  loadOfflineQueue(
    deviceId: string,
    options: { limit: number; now: Date; afterPosition?: bigint },
  ): Promise<StoredEnvelope[]>;
  /**
   * One atomic batch: stores `insert` and removes the `remove` envelopes
   * (each only from its own device's queue; unknown ones are ignored).
   */
  writeOfflineBatch(
    insert: OfflineEnvelope[],
    remove: { deviceId: string; envelopeId: string }[],
  ): Promise<void>;
  /** Removes delivered-and-acknowledged envelopes of a device. Returns how many went. */
  deleteOffline(deviceId: string, envelopeIds: string[]): Promise<number>;
  /** Removes expired envelopes of every device. Returns how many went. */
  purgeExpiredOffline(now: Date): Promise<number>;
  /** Number of queued (unexpired) envelopes of a device. */
  countOfflineQueue(deviceId: string, now: Date): Promise<number>;
  /**
   * Unexpired rows and payload bytes queued for each of `deviceIds`, and by
   * `senderUser` over every queue (zero for an empty `senderUser`).
   */
  offlineQueueUsage(
    deviceIds: string[],
    senderUser: string,
    now: Date,
  ): Promise<OfflineQueueUsage>;
  /** Queued envelopes in total (metrics gauge). */
  countOfflineTotal(): Promise<number>;

  // server secrets
  /** All versions of a secret, newest first. */
  listSecrets(name: string): Promise<ServerSecretRecord[]>;
  /**
   * Stores a secret version; conflict when `(name, version)` exists. Each
   * insert raises the name's high-water mark ({@link Store.latestSecretVersion}).
   * With `neverReused`, also a conflict when `version` is not above that mark,
   * i.e. it was issued before (and maybe deleted since), checked atomically.
   */
  insertSecret(secret: ServerSecretRecord, options?: { neverReused?: boolean }): Promise<void>;
  /** Highest version ever stored under `name`, deleted ones included (0 when none). */
  latestSecretVersion(name: string): Promise<number>;
  deleteSecret(name: string, version: number): Promise<void>;

  // pairing
  /**
   * Stores a new, unredeemed code (attempts 0); conflict when the code exists.
   * With `maxPending`, in the same transaction, first deletes the user's
   * oldest codes still pending at `pairing.issuedAt` so that, with the new
   * one, at most `maxPending` are pending. Returns how many were deleted.
   */
  createPairing(
    pairing: Omit<PairingRecord, "redeemedAt" | "redeemedDeviceId" | "publicKey" | "attempts">,
    maxPending?: number,
  ): Promise<number>;
  getPairing(pairCode: string): Promise<PairingRecord | null>;
  /**
   * Atomically redeems `pairCode` at `now`: when the code is unexpired,
   * unredeemed and has fewer than {@link PAIRING_MAX_ATTEMPTS} attempts, marks it
   * redeemed by `device`, counts the attempt, and inserts the device (for the
   * code's user) and `keyEvent` — all in one transaction. An existing but
   * unusable code only has its attempt counted. Conflict (nothing written)
   * when the device id exists.
   */
  claimPairing(
    pairCode: string,
    now: Date,
    device: Omit<DeviceRecord, "userId">,
    keyEvent: DeviceKeyEvent,
  ): Promise<PairingClaimResult>;
  /** Deletes codes expired at `now`, out of attempts, or redeemed over a day ago. */
  purgePairings(now: Date): Promise<number>;

  // friends
  /** The user's friends list in stored order (empty when none was stored). */
  getFriends(userId: string): Promise<FriendEntry[]>;
  /** Replaces the user's friends list; conflict when the user is unknown. */
  putFriends(userId: string, entries: FriendEntry[], now: Date): Promise<void>;
  /**
   * Creates the request from `request.fromUserId` to `request.toUserId`, or
   * resets an existing one for that pair to pending with the new message and
   * `updatedAt` (keeping its id and `createdAt`). Returns the stored row.
   */
  upsertFriendRequest(request: FriendRequestRecord): Promise<FriendRequestRecord>;
  getFriendRequest(fromUserId: string, toUserId: string): Promise<FriendRequestRecord | null>;
  getFriendRequestById(id: string): Promise<FriendRequestRecord | null>;
  /** Pending requests to the user, oldest first. */
  listIncomingFriendRequests(userId: string): Promise<FriendRequestRecord[]>;
  /** Every request from the user, oldest first. */
  listOutgoingFriendRequests(userId: string): Promise<FriendRequestRecord[]>;
  /** Sets the status; false when no request has that id. */
  setFriendRequestStatus(id: string, status: FriendRequestStatus, now: Date): Promise<boolean>;

  // groups, as access control sees them
  /** True when both devices are members of at least one common group. */
  devicesShareGroup(deviceA: string, deviceB: string): Promise<boolean>;

  // MLS key packages (end-to-end encryption)
  /**
   * In one transaction: drops the device's packages expired at `now`, adds
   * the one-time `packages` it does not hold yet (same hash = same package),
   * and lets a last-resort package replace the device's previous one. Refused
   * (`ok: false`, nothing written) when the device would hold more than
   * `maxOneTime` unexpired one-time packages. Conflict when the device does
   * not exist. Concurrent calls for one device serialise.
   */
  storeKeyPackages(
    deviceId: string,
    packages: KeyPackageRecord[],
    maxOneTime: number,
    now: Date,
  ): Promise<KeyPackageStoreResult>;
  /**
   * Atomically takes the device's oldest unexpired one-time package (deleted:
   * no two callers ever get the same one), else returns its unexpired
   * last-resort package without consuming it; null when it has neither.
   */
  consumeKeyPackage(deviceId: string, now: Date): Promise<KeyPackageRecord | null>;
  /** Unexpired stock of each of `deviceIds` (absent devices: zero, no last resort). */
  keyPackageStock(deviceIds: string[], now: Date): Promise<Map<string, KeyPackageStock>>;
  /** Deletes every package of a device (its key changed, it was revoked); returns how many. */
  deleteKeyPackages(deviceId: string): Promise<number>;
  /** Deletes packages expired at `now`; returns how many. */
  purgeExpiredKeyPackages(now: Date): Promise<number>;

  // device key rotation
  /**
   * In one transaction: sets the device's key to `newPublicKey` (only if it
   * still is `audit.oldPublicKey`), records `event` and `audit`. Conflict,
   * with nothing written, when the device is missing, its key changed
   * meanwhile, or it already rotated to this key (UNIQUE device/new key).
   */
  rotateDeviceKey(rotation: DeviceKeyRotation): Promise<void>;
  /** Rotations of a device, newest first. */
  listDeviceRotations(deviceId: string): Promise<DeviceRotationRecord[]>;

  // idempotency
  /** Records `(key, scope)`; false when it was already recorded. */
  claimIdempotencyKey(key: string, scope: string, now: Date): Promise<boolean>;
  /** Forgets a claim whose work failed, so a retry is processed instead of called a duplicate. */
  releaseIdempotencyKey(key: string, scope: string): Promise<void>;
  /** Deletes keys claimed over {@link IDEMPOTENCY_KEY_RETENTION_MS} before `now`; returns how many. */
  purgeIdempotencyKeys(now: Date): Promise<number>;

  // federation
  /** Every stored peer, by domain. */
  listFederationPeers(): Promise<FederationPeerRecord[]>;
  getFederationPeer(domain: string): Promise<FederationPeerRecord | null>;
  /** Inserts or replaces the peer of `peer.domain`. */
  upsertFederationPeer(peer: FederationPeerRecord): Promise<void>;
  /** False when no peer has that domain. */
  deleteFederationPeer(domain: string): Promise<boolean>;
  /** Stores a new outbox entry (attempts 0, no error); conflict when the id exists. */
  enqueueFederationOutbox(
    entry: Omit<FederationOutboxRecord, "attempts" | "lastError">,
  ): Promise<void>;
  /**
   * Leases up to `limit` entries due at `now` (oldest first): each gets
   * `attempts + 1` and `nextAttemptAt = now + leaseMs`, so no other worker
   * (or instance) claims it until the lease runs out. Returns the updated rows.
   */
  claimFederationOutbox(
    now: Date,
    leaseMs: number,
    limit: number,
  ): Promise<FederationOutboxRecord[]>;
  /** Removes a delivered entry; false when it is gone. */
  completeFederationOutbox(outboxId: string): Promise<boolean>;
  /** Records a failed attempt and when to try again; false when the entry is gone. */
  failFederationOutbox(outboxId: string, error: string, nextAttemptAt: Date): Promise<boolean>;
  /** Entries oldest first (operators, tests). */
  listFederationOutbox(limit: number): Promise<FederationOutboxRecord[]>;
}
