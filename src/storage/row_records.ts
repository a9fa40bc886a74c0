/**
 * Row → record mapping written once for both stores. What a column of each
 * record is called and which values are allowed is the same in SQLite and
 * PostgreSQL; how an integer, bytes, a time or a JSON value is stored is not.
 * Each dialect passes those readers in ({@link DialectColumns}) and gets the
 * record mappers back from {@link rowRecords}: the differences stay in
 * `sqlite/rows.ts` and `postgres/rows.ts`, in plain sight.
 *
 * @module
 */

import { corrupt as bad, text, textOrNull } from "./row_narrowing.ts";
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
} from "./store.ts";

/** A row as a driver returns it (a parsing boundary: values are narrowed by the readers). */
export type AnyRow = Readonly<Record<string, unknown>>;

/** The column readers whose rule differs per dialect. Each throws a `StoreCorruptionError` on a wrong type. */
export interface DialectColumns {
  /** INTEGER/BIGINT column as a number. */
  int(row: AnyRow, column: string): number;
  /** BLOB/BYTEA column. */
  bytes(row: AnyRow, column: string): Uint8Array;
  /** Nullable BLOB/BYTEA column. */
  bytesOrNull(row: AnyRow, column: string): Uint8Array | null;
  /** Time column (unix milliseconds in SQLite, TIMESTAMPTZ in PostgreSQL). */
  date(row: AnyRow, column: string): Date;
  /**
   * JSON column, parsed but not yet checked (TEXT in SQLite, JSONB that the
   * client already parsed in PostgreSQL); `expected` names the value for the
   * error when it does not parse.
   */
  json(row: AnyRow, column: string, expected: string): unknown;
}

/** The record mappers of one dialect, as {@link rowRecords} builds them. */
export interface RowRecords {
  /** app_user row → record. */
  user(row: AnyRow): UserRecord;
  /** user_device row → record. */
  device(row: AnyRow): DeviceRecord;
  /** device_key_event row → record. */
  keyEvent(row: AnyRow): DeviceKeyEvent;
  /** session row → record. */
  session(row: AnyRow): SessionRecord;
  /** channel_route row → record. */
  route(row: AnyRow): RouteRecord;
  /** chat_group row → record. */
  group(row: AnyRow): GroupRecord;
  /** group_member row → record. */
  member(row: AnyRow): GroupMemberRecord;
  /** server_secret row → record. */
  secret(row: AnyRow): ServerSecretRecord;
  /** device_pairing row → record. */
  pairing(row: AnyRow): PairingRecord;
  /** friend_requests row → record. */
  friendRequest(row: AnyRow): FriendRequestRecord;
  /** device_rotation_audit row → record. */
  rotation(row: AnyRow): DeviceRotationRecord;
}

const DEVICE_STATUSES: readonly string[] = ["active", "revoked", "diagnostic"];
const GROUP_ROLES: readonly string[] = ["owner", "admin", "member"];
const FRIEND_REQUEST_STATUSES: readonly string[] = ["pending", "accepted", "rejected"];

/**
 * The record mappers over one dialect's column readers. The mappers are plain
 * closures (no `this`), so `rows.map(records.user)` works.
 */
export function rowRecords(c: DialectColumns): RowRecords {
  const { int, bytes, bytesOrNull, date, json } = c;
  return {
    user: (row) => ({
      userId: text(row, "user_id"),
      handle: text(row, "handle"),
      displayName: textOrNull(row, "display_name"),
      avatarUrl: textOrNull(row, "avatar_url"),
      domain: text(row, "domain"),
      createdAt: date(row, "created_at"),
      updatedAt: date(row, "updated_at"),
    }),
    device: (row) => {
      const status = text(row, "status");
      if (!DEVICE_STATUSES.includes(status)) bad("status", "a device status");
      return {
        deviceId: text(row, "device_id"),
        userId: text(row, "user_id"),
        publicKey: bytes(row, "public_key"),
        status: status as DeviceStatus,
        createdAt: date(row, "created_at"),
      };
    },
    keyEvent: (row) => ({
      eventId: text(row, "event_id"),
      deviceId: text(row, "device_id"),
      publicKey: bytes(row, "public_key"),
      recordedAt: date(row, "recorded_at"),
    }),
    session: (row) => ({
      sessionId: text(row, "session_id"),
      userId: text(row, "user_id"),
      deviceId: text(row, "device_id"),
      tlsFingerprint: text(row, "tls_fingerprint"),
      createdAt: date(row, "created_at"),
      ttlSeconds: int(row, "ttl_seconds"),
    }),
    route: (row) => {
      const members = json(row, "members", "a JSON array");
      if (!Array.isArray(members) || !members.every((m) => typeof m === "string")) {
        bad("members", "a JSON array of strings");
      }
      return {
        channel: int(row, "channel"),
        members,
        groupId: textOrNull(row, "group_id"),
      };
    },
    group: (row) => ({
      groupId: text(row, "group_id"),
      ownerDevice: text(row, "owner_device"),
      createdAt: date(row, "created_at"),
    }),
    member: (row) => {
      const role = text(row, "role");
      if (!GROUP_ROLES.includes(role)) bad("role", "a group role");
      return {
        groupId: text(row, "group_id"),
        deviceId: text(row, "device_id"),
        role: role as GroupRole,
        joinedAt: date(row, "joined_at"),
      };
    },
    secret: (row) => {
      const metadata = json(row, "metadata", "a JSON object");
      if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
        bad("metadata", "a JSON object");
      }
      return {
        name: text(row, "name"),
        version: int(row, "version"),
        secret: bytes(row, "secret"),
        public: bytesOrNull(row, "public"),
        metadata: metadata as Record<string, unknown>,
        createdAt: date(row, "created_at"),
        validAfter: date(row, "valid_after"),
        rotatesAt: date(row, "rotates_at"),
        expiresAt: date(row, "expires_at"),
      };
    },
    pairing: (row) => ({
      pairCode: text(row, "pair_code"),
      userId: text(row, "user_id"),
      issuerDeviceId: text(row, "issuer_device_id"),
      issuedAt: date(row, "issued_at"),
      expiresAt: date(row, "expires_at"),
      redeemedAt: row.redeemed_at === null ? null : date(row, "redeemed_at"),
      redeemedDeviceId: textOrNull(row, "redeemed_device_id"),
      publicKey: bytesOrNull(row, "public_key"),
      attempts: int(row, "attempts"),
    }),
    friendRequest: (row) => {
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
    },
    rotation: (row) => ({
      rotationId: text(row, "rotation_id"),
      deviceId: text(row, "device_id"),
      oldPublicKey: bytes(row, "old_public_key"),
      newPublicKey: bytes(row, "new_public_key"),
      signature: bytes(row, "signature"),
      nonce: bytesOrNull(row, "nonce"),
      proofExpiresAt: date(row, "proof_expires_at"),
      appliedAt: date(row, "applied_at"),
    }),
  };
}
