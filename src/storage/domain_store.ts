/**
 * The half of a {@link Store} that both dialects implement as plain functions
 * over their database handle (users, devices, sessions, routes, groups, the
 * offline queue, secrets, pairing, friends, idempotency): one class forwards
 * each method to the dialect's function, so the two stores share it.
 *
 * @module
 */
import type {
  DeviceKeyEvent,
  DeviceKeyRotation,
  DevicePqKeys,
  DeviceRecord,
  DeviceRotationRecord,
  DeviceStatus,
  FederationOutboxRecord,
  FriendEntry,
  FriendRequestRecord,
  FriendRequestStatus,
  GroupMemberRecord,
  GroupRecord,
  HandshakeCommitted,
  HandshakeWrites,
  KeyPackageRecord,
  KeyPackageStock,
  KeyPackageStoreResult,
  OfflineEnvelope,
  OfflineQueueUsage,
  PairingClaimResult,
  PairingRecord,
  ProfilePatch,
  RouteRecord,
  ServerSecretRecord,
  SessionRecord,
  Store,
  StoredEnvelope,
  UserRecord,
} from "./store.ts";

/** Store members each dialect class implements itself. */
type OwnMember =
  | "backend"
  | "ping"
  | "close"
  | "listFederationPeers"
  | "getFederationPeer"
  | "upsertFederationPeer"
  | "deleteFederationPeer"
  | "enqueueFederationOutbox"
  | "claimFederationOutbox"
  | "completeFederationOutbox"
  | "failFederationOutbox"
  | "listFederationOutbox";

/** The {@link Store} methods forwarded by {@link DomainStore}. */
export type DomainMethod = Exclude<keyof Store, OwnMember>;

/** One dialect's functions: each forwarded method, taking the database handle first. */
export type DomainOps<Db> = {
  [K in DomainMethod]: Store[K] extends (...args: infer A) => infer R ? (db: Db, ...args: A) => R
    : never;
};

/** Forwards the domain methods of a store to its dialect's functions. */
export abstract class DomainStore<Db> {
  readonly #db: Db;
  readonly #ops: DomainOps<Db>;

  constructor(db: Db, ops: DomainOps<Db>) {
    this.#db = db;
    this.#ops = ops;
  }

  // users

  createUser(user: UserRecord): Promise<void> {
    return this.#ops.createUser(this.#db, user);
  }

  getUser(userId: string): Promise<UserRecord | null> {
    return this.#ops.getUser(this.#db, userId);
  }

  getUserByHandle(handle: string, domain: string): Promise<UserRecord | null> {
    return this.#ops.getUserByHandle(this.#db, handle, domain);
  }

  /** Leaves `undefined` fields alone; a missing user is a no-op. */
  updateUserProfile(userId: string, patch: ProfilePatch, now: Date): Promise<void> {
    return this.#ops.updateUserProfile(this.#db, userId, patch, now);
  }

  /** Oldest first (created_at, then user id). */
  listUsers(limit: number, offset: number): Promise<UserRecord[]> {
    return this.#ops.listUsers(this.#db, limit, offset);
  }

  // devices

  getDevice(deviceId: string): Promise<DeviceRecord | null> {
    return this.#ops.getDevice(this.#db, deviceId);
  }

  putDevicePqKeys(keys: DevicePqKeys): Promise<void> {
    return this.#ops.putDevicePqKeys(this.#db, keys);
  }

  getDevicePqKeys(deviceId: string): Promise<DevicePqKeys | null> {
    return this.#ops.getDevicePqKeys(this.#db, deviceId);
  }

  // MLS key packages

  storeKeyPackages(
    deviceId: string,
    packages: KeyPackageRecord[],
    maxOneTime: number,
    now: Date,
  ): Promise<KeyPackageStoreResult> {
    return this.#ops.storeKeyPackages(this.#db, deviceId, packages, maxOneTime, now);
  }

  consumeKeyPackage(deviceId: string, now: Date): Promise<KeyPackageRecord | null> {
    return this.#ops.consumeKeyPackage(this.#db, deviceId, now);
  }

  keyPackageStock(deviceIds: string[], now: Date): Promise<Map<string, KeyPackageStock>> {
    return this.#ops.keyPackageStock(this.#db, deviceIds, now);
  }

  deleteKeyPackages(deviceId: string): Promise<number> {
    return this.#ops.deleteKeyPackages(this.#db, deviceId);
  }

  purgeExpiredKeyPackages(now: Date): Promise<number> {
    return this.#ops.purgeExpiredKeyPackages(this.#db, now);
  }

  insertDevice(device: DeviceRecord): Promise<void> {
    return this.#ops.insertDevice(this.#db, device);
  }

  /** A missing device is a no-op. */
  updateDeviceKey(deviceId: string, publicKey: Uint8Array): Promise<void> {
    return this.#ops.updateDeviceKey(this.#db, deviceId, publicKey);
  }

  /** A missing device is a no-op. */
  setDeviceStatus(deviceId: string, status: DeviceStatus): Promise<void> {
    return this.#ops.setDeviceStatus(this.#db, deviceId, status);
  }

  /** Oldest first. */
  listDevicesForUser(userId: string): Promise<DeviceRecord[]> {
    return this.#ops.listDevicesForUser(this.#db, userId);
  }

  countActiveDevices(userId: string): Promise<number> {
    return this.#ops.countActiveDevices(this.#db, userId);
  }

  recordDeviceKeyEvent(event: DeviceKeyEvent): Promise<void> {
    return this.#ops.recordDeviceKeyEvent(this.#db, event);
  }

  /** Newest by recorded_at; ties go to the one recorded last. */
  latestDeviceKeyEvent(deviceId: string): Promise<DeviceKeyEvent | null> {
    return this.#ops.latestDeviceKeyEvent(this.#db, deviceId);
  }

  // handshake

  commitHandshake(writes: HandshakeWrites): Promise<HandshakeCommitted> {
    return this.#ops.commitHandshake(this.#db, writes);
  }

  // sessions

  putSession(session: SessionRecord): Promise<void> {
    return this.#ops.putSession(this.#db, session);
  }

  /** Returns the session even when expired; callers check `createdAt + ttlSeconds`. */
  getSession(sessionId: string): Promise<SessionRecord | null> {
    return this.#ops.getSession(this.#db, sessionId);
  }

  deleteSessionsForDevice(deviceId: string): Promise<void> {
    return this.#ops.deleteSessionsForDevice(this.#db, deviceId);
  }

  /** Deletes sessions with `createdAt + ttlSeconds <= now`. */
  purgeExpiredSessions(now: Date): Promise<number> {
    return this.#ops.purgeExpiredSessions(this.#db, now);
  }

  rotateDeviceKey(rotation: DeviceKeyRotation): Promise<void> {
    return this.#ops.rotateDeviceKey(this.#db, rotation);
  }

  listDeviceRotations(deviceId: string): Promise<DeviceRotationRecord[]> {
    return this.#ops.listDeviceRotations(this.#db, deviceId);
  }

  getRoute(channel: number): Promise<RouteRecord | null> {
    return this.#ops.getRoute(this.#db, channel);
  }

  putRoute(route: RouteRecord): Promise<void> {
    return this.#ops.putRoute(this.#db, route);
  }

  deleteRoute(channel: number): Promise<void> {
    return this.#ops.deleteRoute(this.#db, channel);
  }

  // groups

  createGroup(group: GroupRecord, members: GroupMemberRecord[]): Promise<void> {
    return this.#ops.createGroup(this.#db, group, members);
  }

  getGroup(groupId: string): Promise<GroupRecord | null> {
    return this.#ops.getGroup(this.#db, groupId);
  }

  /** In join order. */
  listGroupMembers(groupId: string): Promise<GroupMemberRecord[]> {
    return this.#ops.listGroupMembers(this.#db, groupId);
  }

  /** Inserts the membership, or changes the role of an existing one (keeping `joinedAt`). */
  upsertGroupMember(member: GroupMemberRecord): Promise<void> {
    return this.#ops.upsertGroupMember(this.#db, member);
  }

  removeGroupMember(groupId: string, deviceId: string): Promise<void> {
    return this.#ops.removeGroupMember(this.#db, groupId, deviceId);
  }

  // offline queue

  enqueueOffline(envelopes: OfflineEnvelope[]): Promise<void> {
    return this.#ops.enqueueOffline(this.#db, envelopes);
  }

  writeOfflineBatch(
    insert: OfflineEnvelope[],
    remove: { deviceId: string; envelopeId: string }[],
  ): Promise<void> {
    return this.#ops.writeOfflineBatch(this.#db, insert, remove);
  }

  loadOfflineQueue(
    deviceId: string,
    options: { limit: number; now: Date; afterPosition?: bigint },
  ): Promise<StoredEnvelope[]> {
    return this.#ops.loadOfflineQueue(this.#db, deviceId, options);
  }

  /** Only envelopes of `deviceId` go; ids of other devices are ignored. */
  deleteOffline(deviceId: string, envelopeIds: string[]): Promise<number> {
    return this.#ops.deleteOffline(this.#db, deviceId, envelopeIds);
  }

  purgeExpiredOffline(now: Date): Promise<number> {
    return this.#ops.purgeExpiredOffline(this.#db, now);
  }

  /** Unexpired envelopes, including ones not yet deliverable. */
  countOfflineQueue(deviceId: string, now: Date): Promise<number> {
    return this.#ops.countOfflineQueue(this.#db, deviceId, now);
  }

  offlineQueueUsage(
    deviceIds: string[],
    senderUser: string,
    now: Date,
  ): Promise<OfflineQueueUsage> {
    return this.#ops.offlineQueueUsage(this.#db, deviceIds, senderUser, now);
  }

  countOfflineTotal(): Promise<number> {
    return this.#ops.countOfflineTotal(this.#db);
  }

  devicesShareGroup(deviceA: string, deviceB: string): Promise<boolean> {
    return this.#ops.devicesShareGroup(this.#db, deviceA, deviceB);
  }

  listSecrets(name: string): Promise<ServerSecretRecord[]> {
    return this.#ops.listSecrets(this.#db, name);
  }

  insertSecret(secret: ServerSecretRecord, options?: { neverReused?: boolean }): Promise<void> {
    return this.#ops.insertSecret(this.#db, secret, options);
  }

  latestSecretVersion(name: string): Promise<number> {
    return this.#ops.latestSecretVersion(this.#db, name);
  }

  deleteSecret(name: string, version: number): Promise<void> {
    return this.#ops.deleteSecret(this.#db, name, version);
  }

  // pairing

  createPairing(
    pairing: Omit<PairingRecord, "redeemedAt" | "redeemedDeviceId" | "publicKey" | "attempts">,
    maxPending?: number,
  ): Promise<number> {
    return this.#ops.createPairing(this.#db, pairing, maxPending);
  }

  getPairing(pairCode: string): Promise<PairingRecord | null> {
    return this.#ops.getPairing(this.#db, pairCode);
  }

  claimPairing(
    pairCode: string,
    now: Date,
    device: Omit<DeviceRecord, "userId">,
    keyEvent: DeviceKeyEvent,
  ): Promise<PairingClaimResult> {
    return this.#ops.claimPairing(this.#db, pairCode, now, device, keyEvent);
  }

  purgePairings(now: Date): Promise<number> {
    return this.#ops.purgePairings(this.#db, now);
  }

  // friends

  getFriends(userId: string): Promise<FriendEntry[]> {
    return this.#ops.getFriends(this.#db, userId);
  }

  putFriends(userId: string, entries: FriendEntry[], now: Date): Promise<void> {
    return this.#ops.putFriends(this.#db, userId, entries, now);
  }

  upsertFriendRequest(request: FriendRequestRecord): Promise<FriendRequestRecord> {
    return this.#ops.upsertFriendRequest(this.#db, request);
  }

  getFriendRequest(fromUserId: string, toUserId: string): Promise<FriendRequestRecord | null> {
    return this.#ops.getFriendRequest(this.#db, fromUserId, toUserId);
  }

  getFriendRequestById(id: string): Promise<FriendRequestRecord | null> {
    return this.#ops.getFriendRequestById(this.#db, id);
  }

  listIncomingFriendRequests(userId: string): Promise<FriendRequestRecord[]> {
    return this.#ops.listIncomingFriendRequests(this.#db, userId);
  }

  listOutgoingFriendRequests(userId: string): Promise<FriendRequestRecord[]> {
    return this.#ops.listOutgoingFriendRequests(this.#db, userId);
  }

  setFriendRequestStatus(id: string, status: FriendRequestStatus, now: Date): Promise<boolean> {
    return this.#ops.setFriendRequestStatus(this.#db, id, status, now);
  }

  claimIdempotencyKey(key: string, scope: string, now: Date): Promise<boolean> {
    return this.#ops.claimIdempotencyKey(this.#db, key, scope, now);
  }

  releaseIdempotencyKey(key: string, scope: string): Promise<void> {
    return this.#ops.releaseIdempotencyKey(this.#db, key, scope);
  }

  purgeIdempotencyKeys(now: Date): Promise<number> {
    return this.#ops.purgeIdempotencyKeys(this.#db, now);
  }
}

/** Oldest first, ties by id (the claim order). */
export function oldestFirst(a: FederationOutboxRecord, b: FederationOutboxRecord): number {
  const d = a.createdAt.getTime() - b.createdAt.getTime();
  return d !== 0 ? d : a.outboxId < b.outboxId ? -1 : a.outboxId > b.outboxId ? 1 : 0;
}
