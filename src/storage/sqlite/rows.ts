/**
 * Narrowing of `node:sqlite` row values into store records. A value of the
 * wrong type means the file was written by something else: that is a
 * {@link StoreCorruptionError}, never a silent `undefined`.
 *
 * @module
 */

import type { SQLOutputValue } from "node:sqlite";
import { corrupt as bad, text, textOrNull } from "../row_narrowing.ts";
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
  UserRecord,
} from "../store.ts";

export { StoreCorruptionError, text, textOrNull } from "../row_narrowing.ts";

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, SQLOutputValue>;

/** INTEGER column as a number (read as number or bigint). */
export function int(row: Row, column: string): number {
  const v = row[column];
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return bad(column, "integer");
}

/** BLOB column. */
export function blob(row: Row, column: string): Uint8Array {
  const v = row[column];
  return v instanceof Uint8Array ? v : bad(column, "blob");
}

/** Nullable BLOB column. */
export function blobOrNull(row: Row, column: string): Uint8Array | null {
  const v = row[column];
  return v === null ? null : v instanceof Uint8Array ? v : bad(column, "blob or null");
}

/** INTEGER unix-milliseconds column. */
export function date(row: Row, column: string): Date {
  return new Date(int(row, column));
}

/** Unix milliseconds of `d`; an invalid Date is rejected before it reaches SQL. */
export function ms(d: Date): number {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new TypeError("invalid Date");
  return t;
}

const DEVICE_STATUSES: readonly string[] = ["active", "revoked", "diagnostic"];
const GROUP_ROLES: readonly string[] = ["owner", "admin", "member"];

/** app_user row → record. */
export function toUser(row: Row): UserRecord {
  return {
    userId: text(row, "user_id"),
    handle: text(row, "handle"),
    displayName: textOrNull(row, "display_name"),
    avatarUrl: textOrNull(row, "avatar_url"),
    domain: text(row, "domain"),
    createdAt: date(row, "created_at"),
    updatedAt: date(row, "updated_at"),
  };
}

/** user_device row → record. */
export function toDevice(row: Row): DeviceRecord {
  const status = text(row, "status");
  if (!DEVICE_STATUSES.includes(status)) bad("status", "a device status");
  return {
    deviceId: text(row, "device_id"),
    userId: text(row, "user_id"),
    publicKey: blob(row, "public_key"),
    status: status as DeviceStatus,
    createdAt: date(row, "created_at"),
  };
}

/** device_key_event row → record. */
export function toKeyEvent(row: Row): DeviceKeyEvent {
  return {
    eventId: text(row, "event_id"),
    deviceId: text(row, "device_id"),
    publicKey: blob(row, "public_key"),
    recordedAt: date(row, "recorded_at"),
  };
}

/** session row → record. */
export function toSession(row: Row): SessionRecord {
  return {
    sessionId: text(row, "session_id"),
    userId: text(row, "user_id"),
    deviceId: text(row, "device_id"),
    tlsFingerprint: text(row, "tls_fingerprint"),
    createdAt: date(row, "created_at"),
    ttlSeconds: int(row, "ttl_seconds"),
  };
}

/** channel_route row → record. */
export function toRoute(row: Row): RouteRecord {
  let members: unknown;
  try {
    members = JSON.parse(text(row, "members"));
  } catch {
    bad("members", "a JSON array");
  }
  if (!Array.isArray(members) || !members.every((m) => typeof m === "string")) {
    bad("members", "a JSON array of strings");
  }
  return {
    channel: int(row, "channel"),
    members,
    groupId: textOrNull(row, "group_id"),
  };
}

/** chat_group row → record. */
export function toGroup(row: Row): GroupRecord {
  return {
    groupId: text(row, "group_id"),
    ownerDevice: text(row, "owner_device"),
    createdAt: date(row, "created_at"),
  };
}

/** group_member row → record. */
export function toMember(row: Row): GroupMemberRecord {
  const role = text(row, "role");
  if (!GROUP_ROLES.includes(role)) bad("role", "a group role");
  return {
    groupId: text(row, "group_id"),
    deviceId: text(row, "device_id"),
    role: role as GroupRole,
    joinedAt: date(row, "joined_at"),
  };
}

/** server_secret row → record. */
export function toSecret(row: Row): ServerSecretRecord {
  let metadata: unknown;
  try {
    metadata = JSON.parse(text(row, "metadata"));
  } catch {
    bad("metadata", "a JSON object");
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    bad("metadata", "a JSON object");
  }
  return {
    name: text(row, "name"),
    version: int(row, "version"),
    secret: blob(row, "secret"),
    public: blobOrNull(row, "public"),
    metadata: metadata as Record<string, unknown>,
    createdAt: date(row, "created_at"),
    validAfter: date(row, "valid_after"),
    rotatesAt: date(row, "rotates_at"),
    expiresAt: date(row, "expires_at"),
  };
}

/** device_pairing row → record. */
export function toPairing(row: Row): PairingRecord {
  const redeemed = row.redeemed_at;
  return {
    pairCode: text(row, "pair_code"),
    userId: text(row, "user_id"),
    issuerDeviceId: text(row, "issuer_device_id"),
    issuedAt: date(row, "issued_at"),
    expiresAt: date(row, "expires_at"),
    redeemedAt: redeemed === null ? null : date(row, "redeemed_at"),
    redeemedDeviceId: textOrNull(row, "redeemed_device_id"),
    publicKey: blobOrNull(row, "public_key"),
    attempts: int(row, "attempts"),
  };
}

const FRIEND_REQUEST_STATUSES: readonly string[] = ["pending", "accepted", "rejected"];

/** friend_requests row → record. */
export function toFriendRequest(row: Row): FriendRequestRecord {
  const status = text(row, "status");
  if (!FRIEND_REQUEST_STATUSES.includes(status)) bad("status", "a friend request status");
  return {
    id: text(row, "id"),
    fromUserId: text(row, "from_user_id"),
    toUserId: text(row, "to_user_id"),
    status: status as FriendRequestStatus,
    message: textOrNull(row, "message"),
    createdAt: date(row, "created_at"),
    updatedAt: date(row, "updated_at"),
  };
}

/** device_rotation_audit row → record. */
export function toRotation(row: Row): DeviceRotationRecord {
  return {
    rotationId: text(row, "rotation_id"),
    deviceId: text(row, "device_id"),
    oldPublicKey: blob(row, "old_public_key"),
    newPublicKey: blob(row, "new_public_key"),
    signature: blob(row, "signature"),
    nonce: blobOrNull(row, "nonce"),
    proofExpiresAt: date(row, "proof_expires_at"),
    appliedAt: date(row, "applied_at"),
  };
}
