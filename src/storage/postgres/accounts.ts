/**
 * Users, devices, the handshake commit, sessions and device key rotation on
 * PostgreSQL: plain functions over the pool, called by {@link PostgresStore}.
 *
 * @module
 */
import type postgres from "postgres";
import type { PostgresClient } from "./client.ts";
import type { PostgresDb } from "./db.ts";
import { pgInt, pgRecords, validDate } from "./rows.ts";
import {
  committedNewUser,
  type DeviceKeyEvent,
  type DeviceKeyRotation,
  type DeviceRecord,
  type DeviceRotationRecord,
  type DeviceStatus,
  type HandshakeCommitted,
  type HandshakeWrites,
  type ProfilePatch,
  type SessionRecord,
  StoreConflictError,
  type UserRecord,
} from "../store.ts";

export async function createUser(db: PostgresDb, user: UserRecord): Promise<void> {
  await db.write("user exists (id or handle@domain taken)", (sql) => insertUser(sql, user));
}

export async function getUser(db: PostgresDb, userId: string): Promise<UserRecord | null> {
  const [row] = await db.rows((sql) => sql`SELECT * FROM app_user WHERE user_id = ${userId}`);
  return row === undefined ? null : pgRecords.user(row);
}

export async function getUserByHandle(
  db: PostgresDb,
  handle: string,
  domain: string,
): Promise<UserRecord | null> {
  const [row] = await db.rows((sql) =>
    sql`SELECT * FROM app_user WHERE handle = ${handle} AND domain = ${domain}`
  );
  return row === undefined ? null : pgRecords.user(row);
}

/** Leaves `undefined` fields alone; a missing user is a no-op. */
export async function updateUserProfile(
  db: PostgresDb,
  userId: string,
  patch: ProfilePatch,
  now: Date,
): Promise<void> {
  await db.write("update profile", (sql) => patchProfile(sql, userId, patch, now));
}

/** Oldest first (created_at, then user id). */
export async function listUsers(
  db: PostgresDb,
  limit: number,
  offset: number,
): Promise<UserRecord[]> {
  if (!(limit >= 1)) return []; // also NaN
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM app_user ORDER BY created_at, user_id
      LIMIT ${Math.trunc(limit)} OFFSET ${Math.max(0, Math.trunc(offset) || 0)}`
  );
  return rows.map(pgRecords.user);
}

// devices

export async function getDevice(db: PostgresDb, deviceId: string): Promise<DeviceRecord | null> {
  const [row] = await db.rows((sql) =>
    sql`SELECT * FROM user_device WHERE device_id = ${deviceId}`
  );
  return row === undefined ? null : pgRecords.device(row);
}

export async function insertDevice(db: PostgresDb, device: DeviceRecord): Promise<void> {
  await db.write("device exists or user unknown", (sql) => insertDeviceRow(sql, device));
}

/** A missing device is a no-op. */
export async function updateDeviceKey(
  db: PostgresDb,
  deviceId: string,
  publicKey: Uint8Array,
): Promise<void> {
  await db.write("update device key", (sql) => setDeviceKey(sql, deviceId, publicKey));
}

/** A missing device is a no-op. */
export async function setDeviceStatus(
  db: PostgresDb,
  deviceId: string,
  status: DeviceStatus,
): Promise<void> {
  await db.write(
    "set device status",
    (sql) => sql`UPDATE user_device SET status = ${status} WHERE device_id = ${deviceId}`,
  );
}

/** Oldest first. */
export async function listDevicesForUser(db: PostgresDb, userId: string): Promise<DeviceRecord[]> {
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM user_device WHERE user_id = ${userId} ORDER BY created_at, device_id`
  );
  return rows.map(pgRecords.device);
}

export async function countActiveDevices(db: PostgresDb, userId: string): Promise<number> {
  const [row] = await db.rows((sql) =>
    sql`SELECT COUNT(*) AS n FROM user_device WHERE user_id = ${userId} AND status = 'active'`
  );
  return row === undefined ? 0 : pgInt(row, "n");
}

export async function recordDeviceKeyEvent(db: PostgresDb, event: DeviceKeyEvent): Promise<void> {
  await db.write("key event exists or device unknown", (sql) => insertKeyEvent(sql, event));
}

/** Newest by recorded_at; ties go to the one stored last (see module doc). */
export async function latestDeviceKeyEvent(
  db: PostgresDb,
  deviceId: string,
): Promise<DeviceKeyEvent | null> {
  const [row] = await db.rows((sql) =>
    sql`SELECT * FROM device_key_event WHERE device_id = ${deviceId}
      ORDER BY recorded_at DESC, ctid DESC LIMIT 1`
  );
  return row === undefined ? null : pgRecords.keyEvent(row);
}

// handshake

/**
 * One statement, so one round trip and one commit (implicit transaction):
 * each write is a data-modifying CTE, all or nothing, and foreign keys are
 * checked at the end of the statement, so a row may reference one inserted
 * beside it. Was a `BEGIN` … `COMMIT` of one round trip per statement (six
 * for a registration, four for a returning device).
 *
 * The final SELECT sees the snapshot from before the statement: a profile
 * patch comes from its own `RETURNING`, and a device inserted for the
 * session's user is added to the count here.
 */
export async function commitHandshake(
  db: PostgresDb,
  writes: HandshakeWrites,
): Promise<HandshakeCommitted> {
  return await db.write(
    "handshake writes (user, device, key event or session) conflict",
    async (sql): Promise<HandshakeCommitted> => {
      const ctes: postgres.PendingQuery<postgres.Row[]>[] = [];
      if (writes.createUser) ctes.push(sql`w_user AS (${insertUser(sql, writes.createUser)})`);
      if (writes.insertDevice) {
        ctes.push(sql`w_device AS (${insertDeviceRow(sql, writes.insertDevice)})`);
      }
      if (writes.updateDeviceKey) {
        const { deviceId, publicKey } = writes.updateDeviceKey;
        ctes.push(sql`w_key AS (${setDeviceKey(sql, deviceId, publicKey)})`);
      }
      const userId = writes.session.userId;
      const patch = writes.updateProfile;
      if (patch) {
        ctes.push(
          sql`w_profile AS (${
            patchProfile(sql, patch.userId, patch.patch, patch.now)
          } RETURNING *)`,
        );
      }
      if (writes.keyEvent) ctes.push(sql`w_event AS (${insertKeyEvent(sql, writes.keyEvent)})`);
      ctes.push(sql`w_session AS (${upsertSession(sql, writes.session)})`);
      const withClause = ctes.reduce((list, cte) => sql`${list}, ${cte}`);
      const known = committedNewUser(writes);
      if (known !== null) {
        await sql`WITH ${withClause} SELECT 1`;
        return known;
      }
      const users = patch?.userId === userId
        ? sql`(SELECT * FROM w_profile UNION ALL SELECT * FROM app_user
            WHERE user_id = ${userId} AND NOT EXISTS (SELECT 1 FROM w_profile))`
        : sql`app_user`;
      const [row] = await sql`WITH ${withClause}
        SELECT u.*, (SELECT COUNT(*) FROM user_device d
          WHERE d.user_id = u.user_id AND d.status = 'active') AS active_devices
        FROM ${users} u WHERE u.user_id = ${userId}`;
      const device = writes.insertDevice;
      const inserted = device?.userId === userId && device.status === "active" ? 1 : 0;
      return {
        user: row === undefined ? null : pgRecords.user(row),
        activeDevices: row === undefined ? 0 : pgInt(row, "active_devices") + inserted,
      };
    },
  );
}

// sessions

export async function putSession(db: PostgresDb, session: SessionRecord): Promise<void> {
  await db.write("session user or device unknown", (sql) => upsertSession(sql, session));
}

/** Returns the session even when expired; callers check `createdAt + ttlSeconds`. */
export async function getSession(db: PostgresDb, sessionId: string): Promise<SessionRecord | null> {
  const [row] = await db.rows((sql) => sql`SELECT * FROM session WHERE session_id = ${sessionId}`);
  return row === undefined ? null : pgRecords.session(row);
}

export async function deleteSessionsForDevice(db: PostgresDb, deviceId: string): Promise<void> {
  await db.write(
    "delete sessions",
    (sql) => sql`DELETE FROM session WHERE device_id = ${deviceId}`,
  );
}

/** Deletes sessions with `createdAt + ttlSeconds <= now`. */
export async function purgeExpiredSessions(db: PostgresDb, now: Date): Promise<number> {
  const result = await db.write(
    "purge sessions",
    (sql) => sql`DELETE FROM session WHERE expires_at <= ${validDate(now)}`,
  );
  return result.count;
}

// device key rotation

export async function rotateDeviceKey(db: PostgresDb, rotation: DeviceKeyRotation): Promise<void> {
  const e = rotation.event;
  const a = rotation.audit;
  await db.write("device already rotated to this key", (sql) =>
    sql.begin(async (tx) => {
      const changed = await tx`UPDATE user_device SET public_key = ${rotation.newPublicKey}
        WHERE device_id = ${rotation.deviceId} AND public_key = ${a.oldPublicKey}`;
      if (changed.count !== 1) {
        throw new StoreConflictError("device missing or its key changed meanwhile");
      }
      await tx`INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
        VALUES (${e.eventId}, ${e.deviceId}, ${e.publicKey}, ${validDate(e.recordedAt)})`;
      await tx`INSERT INTO device_rotation_audit (rotation_id, device_id, old_public_key,
          new_public_key, signature, nonce, proof_expires_at, applied_at)
        VALUES (${a.rotationId}, ${a.deviceId}, ${a.oldPublicKey}, ${a.newPublicKey},
          ${a.signature}, ${a.nonce}, ${validDate(a.proofExpiresAt)},
          ${validDate(a.appliedAt)})`;
    }));
}

export async function listDeviceRotations(
  db: PostgresDb,
  deviceId: string,
): Promise<DeviceRotationRecord[]> {
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM device_rotation_audit WHERE device_id = ${deviceId}
      ORDER BY applied_at DESC, ctid DESC`
  );
  return rows.map(pgRecords.rotation);
}

/** A query tag: the pool or a transaction. */
type PgTag = PostgresClient | postgres.TransactionSql<{ bigint: bigint; bytea: Uint8Array }>;

// Single-row writes, shared by the one-call methods and commitHandshake.

function insertUser(q: PgTag, user: UserRecord) {
  return q`INSERT INTO app_user (user_id, handle, display_name, avatar_url, domain, created_at,
    updated_at) VALUES (${user.userId}, ${user.handle}, ${user.displayName},
    ${user.avatarUrl}, ${user.domain}, ${validDate(user.createdAt)},
    ${validDate(user.updatedAt)})`;
}

function patchProfile(q: PgTag, userId: string, patch: ProfilePatch, now: Date) {
  return q`UPDATE app_user SET
    display_name = CASE WHEN ${patch.displayName !== undefined}::boolean
      THEN ${patch.displayName ?? null}::text ELSE display_name END,
    avatar_url = CASE WHEN ${patch.avatarUrl !== undefined}::boolean
      THEN ${patch.avatarUrl ?? null}::text ELSE avatar_url END,
    updated_at = ${validDate(now)}
  WHERE user_id = ${userId}`;
}

function insertDeviceRow(q: PgTag, device: DeviceRecord) {
  return q`INSERT INTO user_device (device_id, user_id, public_key, status, created_at)
    VALUES (${device.deviceId}, ${device.userId}, ${device.publicKey}, ${device.status},
    ${validDate(device.createdAt)})`;
}

function setDeviceKey(q: PgTag, deviceId: string, publicKey: Uint8Array) {
  return q`UPDATE user_device SET public_key = ${publicKey} WHERE device_id = ${deviceId}`;
}

function insertKeyEvent(q: PgTag, event: DeviceKeyEvent) {
  return q`INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
    VALUES (${event.eventId}, ${event.deviceId}, ${event.publicKey},
    ${validDate(event.recordedAt)})`;
}

function upsertSession(q: PgTag, session: SessionRecord) {
  const created = validDate(session.createdAt);
  const expires = validDate(new Date(created.getTime() + session.ttlSeconds * 1000));
  return q`INSERT INTO session (session_id, user_id, device_id, tls_fingerprint, created_at,
      ttl_seconds, expires_at) VALUES (${session.sessionId}, ${session.userId},
      ${session.deviceId}, ${session.tlsFingerprint}, ${created}, ${session.ttlSeconds},
      ${expires})
    ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,
      device_id = excluded.device_id, tls_fingerprint = excluded.tls_fingerprint,
      created_at = excluded.created_at, ttl_seconds = excluded.ttl_seconds,
      expires_at = excluded.expires_at`;
}
