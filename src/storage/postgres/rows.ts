/**
 * Narrowing of PostgreSQL rows (as the `postgres` client parses them) into
 * store records. The client is configured by `postgres_client.ts` to return
 * BIGINT as `bigint`, BYTEA as a plain `Uint8Array`, TIMESTAMPTZ as `Date`
 * and JSONB parsed. Anything else means the schema is not the one this code
 * was written for: that is a {@link StoreCorruptionError}, never a silent
 * `undefined`.
 *
 * @module
 */

import { corrupt as bad, text as pgText, textOrNull as pgTextOrNull } from "../row_narrowing.ts";
import type {
  DeviceKeyEvent,
  DeviceRecord,
  DeviceRotationRecord,
  DeviceStatus,
  FriendRequestRecord,
  FriendRequestStatus,
  GroupMemberRecord,
  GroupRecord,
  GroupRole,
  PairingRecord,
  RouteRecord,
  ServerSecretRecord,
  SessionRecord,
  StoredEnvelope,
  UserRecord,
} from "../store.ts";

export { pgText, pgTextOrNull };

/** A row as the client returns it (a parsing boundary: values are narrowed below). */
export type PgRow = Record<string, unknown>;

/** INTEGER or BIGINT column as a number (must be a safe integer). */
export function pgInt(row: PgRow, column: string): number {
  const v = row[column];
  const n = typeof v === "bigint" ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : bad(column, "a safe integer");
}

/** BIGINT column as a bigint. */
export function pgBigint(row: PgRow, column: string): bigint {
  const v = row[column];
  return typeof v === "bigint" ? v : bad(column, "bigint");
}

/** BYTEA column. */
export function pgBytes(row: PgRow, column: string): Uint8Array {
  const v = row[column];
  return v instanceof Uint8Array ? v : bad(column, "bytea");
}

/** Nullable BYTEA column. */
export function pgBytesOrNull(row: PgRow, column: string): Uint8Array | null {
  const v = row[column];
  return v === null ? null : v instanceof Uint8Array ? v : bad(column, "bytea or null");
}

/** TIMESTAMPTZ column. */
export function pgDate(row: PgRow, column: string): Date {
  const v = row[column];
  return v instanceof Date && !Number.isNaN(v.getTime()) ? v : bad(column, "timestamptz");
}

/** BOOLEAN column. */
export function pgBool(row: PgRow, column: string): boolean {
  const v = row[column];
  return typeof v === "boolean" ? v : bad(column, "boolean");
}

/** `d`, refusing an invalid Date before it reaches SQL (same rule as the SQLite store). */
export function validDate(d: Date): Date {
  if (Number.isNaN(d.getTime())) throw new TypeError("invalid Date");
  return d;
}

const DEVICE_STATUSES: readonly string[] = ["active", "revoked", "diagnostic"];
const GROUP_ROLES: readonly string[] = ["owner", "admin", "member"];

/** app_user row → record. */
export function pgUser(row: PgRow): UserRecord {
  return {
    userId: pgText(row, "user_id"),
    handle: pgText(row, "handle"),
    displayName: pgTextOrNull(row, "display_name"),
    avatarUrl: pgTextOrNull(row, "avatar_url"),
    domain: pgText(row, "domain"),
    createdAt: pgDate(row, "created_at"),
    updatedAt: pgDate(row, "updated_at"),
  };
}

/** user_device row → record. */
export function pgDevice(row: PgRow): DeviceRecord {
  const status = pgText(row, "status");
  if (!DEVICE_STATUSES.includes(status)) bad("status", "a device status");
  return {
    deviceId: pgText(row, "device_id"),
    userId: pgText(row, "user_id"),
    publicKey: pgBytes(row, "public_key"),
    status: status as DeviceStatus,
    createdAt: pgDate(row, "created_at"),
  };
}

/** device_key_event row → record. */
export function pgKeyEvent(row: PgRow): DeviceKeyEvent {
  return {
    eventId: pgText(row, "event_id"),
    deviceId: pgText(row, "device_id"),
    publicKey: pgBytes(row, "public_key"),
    recordedAt: pgDate(row, "recorded_at"),
  };
}

/** session row → record. */
export function pgSession(row: PgRow): SessionRecord {
  return {
    sessionId: pgText(row, "session_id"),
    userId: pgText(row, "user_id"),
    deviceId: pgText(row, "device_id"),
    tlsFingerprint: pgText(row, "tls_fingerprint"),
    createdAt: pgDate(row, "created_at"),
    ttlSeconds: pgInt(row, "ttl_seconds"),
  };
}

/** channel_route row → record. */
export function pgRoute(row: PgRow): RouteRecord {
  const members = row.members;
  if (!Array.isArray(members) || !members.every((m) => typeof m === "string")) {
    bad("members", "a JSON array of strings");
  }
  return {
    channel: pgInt(row, "channel"),
    members,
    groupId: pgTextOrNull(row, "group_id"),
  };
}

/** chat_group row → record. */
export function pgGroup(row: PgRow): GroupRecord {
  return {
    groupId: pgText(row, "group_id"),
    ownerDevice: pgText(row, "owner_device"),
    createdAt: pgDate(row, "created_at"),
  };
}

/** group_member row → record. */
export function pgMember(row: PgRow): GroupMemberRecord {
  const role = pgText(row, "role");
  if (!GROUP_ROLES.includes(role)) bad("role", "a group role");
  return {
    groupId: pgText(row, "group_id"),
    deviceId: pgText(row, "device_id"),
    role: role as GroupRole,
    joinedAt: pgDate(row, "joined_at"),
  };
}

/** server_secret row → record. */
export function pgSecret(row: PgRow): ServerSecretRecord {
  const metadata = row.metadata;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    bad("metadata", "a JSON object");
  }
  return {
    name: pgText(row, "name"),
    version: pgInt(row, "version"),
    secret: pgBytes(row, "secret"),
    public: pgBytesOrNull(row, "public"),
    metadata: metadata as Record<string, unknown>,
    createdAt: pgDate(row, "created_at"),
    validAfter: pgDate(row, "valid_after"),
    rotatesAt: pgDate(row, "rotates_at"),
    expiresAt: pgDate(row, "expires_at"),
  };
}

/** relay_queue row (position, envelope_id, payload, deliver_after, expires_at) → envelope. */
export function pgEnvelope(row: PgRow, deviceId: string): StoredEnvelope {
  return {
    position: pgBigint(row, "position"),
    envelopeId: pgText(row, "envelope_id"),
    deviceId,
    payload: pgBytes(row, "payload"),
    deliverAfter: pgDate(row, "deliver_after"),
    expiresAt: pgDate(row, "expires_at"),
  };
}

/** device_pairing row → record. */
export function pgPairing(row: PgRow): PairingRecord {
  return {
    pairCode: pgText(row, "pair_code"),
    userId: pgText(row, "user_id"),
    issuerDeviceId: pgText(row, "issuer_device_id"),
    issuedAt: pgDate(row, "issued_at"),
    expiresAt: pgDate(row, "expires_at"),
    redeemedAt: row.redeemed_at === null ? null : pgDate(row, "redeemed_at"),
    redeemedDeviceId: pgTextOrNull(row, "redeemed_device_id"),
    publicKey: pgBytesOrNull(row, "public_key"),
    attempts: pgInt(row, "attempts"),
  };
}

const FRIEND_REQUEST_STATUSES: readonly string[] = ["pending", "accepted", "rejected"];

/** friend_requests row → record. */
export function pgFriendRequest(row: PgRow): FriendRequestRecord {
  const status = pgText(row, "status");
  if (!FRIEND_REQUEST_STATUSES.includes(status)) bad("status", "a friend request status");
  return {
    id: pgText(row, "id"),
    fromUserId: pgText(row, "from_user_id"),
    toUserId: pgText(row, "to_user_id"),
    status: status as FriendRequestStatus,
    message: pgTextOrNull(row, "message"),
    createdAt: pgDate(row, "created_at"),
    updatedAt: pgDate(row, "updated_at"),
  };
}

/** device_rotation_audit row → record. */
export function pgRotation(row: PgRow): DeviceRotationRecord {
  return {
    rotationId: pgText(row, "rotation_id"),
    deviceId: pgText(row, "device_id"),
    oldPublicKey: pgBytes(row, "old_public_key"),
    newPublicKey: pgBytes(row, "new_public_key"),
    signature: pgBytes(row, "signature"),
    nonce: pgBytesOrNull(row, "nonce"),
    proofExpiresAt: pgDate(row, "proof_expires_at"),
    appliedAt: pgDate(row, "applied_at"),
  };
}
