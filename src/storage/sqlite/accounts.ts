/**
 * Users, devices, the handshake commit, sessions and device key rotation on
 * SQLite: plain functions over the open database, called by {@link SqliteStore}.
 *
 * @module
 */
import type { SqliteDb } from "./db.ts";
import { int, ms, sqliteRecords } from "./rows.ts";
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

export function createUser(db: SqliteDb, user: UserRecord): Promise<void> {
  return db.write("user exists (id or handle@domain taken)", () => {
    insertUser(db, user);
  });
}

export function getUser(db: SqliteDb, userId: string): Promise<UserRecord | null> {
  return db.read(() => {
    const row = db.get("SELECT * FROM app_user WHERE user_id = ?", userId);
    return row === undefined ? null : sqliteRecords.user(row);
  });
}

export function getUserByHandle(
  db: SqliteDb,
  handle: string,
  domain: string,
): Promise<UserRecord | null> {
  return db.read(() => {
    const row = db.get(
      "SELECT * FROM app_user WHERE handle = ? AND domain = ?",
      handle,
      domain,
    );
    return row === undefined ? null : sqliteRecords.user(row);
  });
}

/** Leaves `undefined` fields alone; a missing user is a no-op. */
export function updateUserProfile(
  db: SqliteDb,
  userId: string,
  patch: ProfilePatch,
  now: Date,
): Promise<void> {
  return db.write("update profile", () => {
    patchProfile(db, userId, patch, now);
  });
}

/** Oldest first (created_at, then user id). */
export function listUsers(db: SqliteDb, limit: number, offset: number): Promise<UserRecord[]> {
  return db.read(() => {
    if (!(limit >= 1)) return []; // also NaN
    return db.all(
      // `CAST`: a bare `LIMIT ?` makes SQLite recompile the statement at every run (db.ts).
      "SELECT * FROM app_user ORDER BY created_at, user_id LIMIT CAST(? AS INTEGER) OFFSET ?",
      Math.trunc(limit),
      Math.max(0, Math.trunc(offset)),
    ).map(sqliteRecords.user);
  });
}

// devices

export function getDevice(db: SqliteDb, deviceId: string): Promise<DeviceRecord | null> {
  return db.read(() => {
    const row = db.get("SELECT * FROM user_device WHERE device_id = ?", deviceId);
    return row === undefined ? null : sqliteRecords.device(row);
  });
}

export function insertDevice(db: SqliteDb, device: DeviceRecord): Promise<void> {
  return db.write("device exists or user unknown", () => {
    insertDeviceRow(db, device);
  });
}

/** A missing device is a no-op. */
export function updateDeviceKey(
  db: SqliteDb,
  deviceId: string,
  publicKey: Uint8Array,
): Promise<void> {
  return db.write("update device key", () => {
    setDeviceKey(db, deviceId, publicKey);
  });
}

/** A missing device is a no-op. */
export function setDeviceStatus(
  db: SqliteDb,
  deviceId: string,
  status: DeviceStatus,
): Promise<void> {
  return db.write("set device status", () => {
    db.run("UPDATE user_device SET status = ? WHERE device_id = ?", status, deviceId);
  });
}

/** Oldest first. */
export function listDevicesForUser(db: SqliteDb, userId: string): Promise<DeviceRecord[]> {
  return db.read(() =>
    db.all(
      "SELECT * FROM user_device WHERE user_id = ? ORDER BY created_at, device_id",
      userId,
    ).map(sqliteRecords.device)
  );
}

export function countActiveDevices(db: SqliteDb, userId: string): Promise<number> {
  return db.read(() => {
    const row = db.get(
      "SELECT COUNT(*) AS n FROM user_device WHERE user_id = ? AND status = 'active'",
      userId,
    );
    return row === undefined ? 0 : int(row, "n");
  });
}

export function recordDeviceKeyEvent(db: SqliteDb, event: DeviceKeyEvent): Promise<void> {
  return db.write("key event exists or device unknown", () => {
    insertKeyEvent(db, event);
  });
}

/** Newest by recorded_at; ties go to the one recorded last. */
export function latestDeviceKeyEvent(
  db: SqliteDb,
  deviceId: string,
): Promise<DeviceKeyEvent | null> {
  return db.read(() => {
    const row = db.get(
      `SELECT * FROM device_key_event WHERE device_id = ?
       ORDER BY recorded_at DESC, rowid DESC LIMIT 1`,
      deviceId,
    );
    return row === undefined ? null : sqliteRecords.keyEvent(row);
  });
}

// handshake

export function commitHandshake(
  db: SqliteDb,
  writes: HandshakeWrites,
): Promise<HandshakeCommitted> {
  // Group commit (db.ts): the handshakes of one event-loop turn share a transaction.
  return db.groupedWrite(
    "handshake writes (user, device, key event or session) conflict",
    (): HandshakeCommitted => {
      if (writes.createUser) insertUser(db, writes.createUser);
      if (writes.insertDevice) insertDeviceRow(db, writes.insertDevice);
      if (writes.updateDeviceKey) {
        setDeviceKey(db, writes.updateDeviceKey.deviceId, writes.updateDeviceKey.publicKey);
      }
      if (writes.updateProfile) {
        const { userId, patch, now } = writes.updateProfile;
        patchProfile(db, userId, patch, now);
      }
      if (writes.keyEvent) insertKeyEvent(db, writes.keyEvent);
      upsertSession(db, writes.session);
      const known = committedNewUser(writes);
      if (known !== null) return known;
      const userId = writes.session.userId;
      const row = db.get("SELECT * FROM app_user WHERE user_id = ?", userId);
      const count = db.get(
        "SELECT COUNT(*) AS n FROM user_device WHERE user_id = ? AND status = 'active'",
        userId,
      );
      return {
        user: row === undefined ? null : sqliteRecords.user(row),
        activeDevices: count === undefined ? 0 : int(count, "n"),
      };
    },
  );
}

// Single-row writes, shared by the one-call methods and commitHandshake.

function insertUser(db: SqliteDb, user: UserRecord): void {
  db.run(
    `INSERT INTO app_user (user_id, handle, display_name, avatar_url, domain, created_at,
     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    user.userId,
    user.handle,
    user.displayName,
    user.avatarUrl,
    user.domain,
    ms(user.createdAt),
    ms(user.updatedAt),
  );
}

function patchProfile(db: SqliteDb, userId: string, patch: ProfilePatch, now: Date): void {
  db.run(
    `UPDATE app_user SET
       display_name = CASE WHEN ? THEN ? ELSE display_name END,
       avatar_url = CASE WHEN ? THEN ? ELSE avatar_url END,
       updated_at = ?
     WHERE user_id = ?`,
    patch.displayName === undefined ? 0 : 1,
    patch.displayName ?? null,
    patch.avatarUrl === undefined ? 0 : 1,
    patch.avatarUrl ?? null,
    ms(now),
    userId,
  );
}

function insertDeviceRow(db: SqliteDb, device: DeviceRecord): void {
  db.run(
    `INSERT INTO user_device (device_id, user_id, public_key, status, created_at)
     VALUES (?, ?, ?, ?, ?)`,
    device.deviceId,
    device.userId,
    device.publicKey,
    device.status,
    ms(device.createdAt),
  );
}

function setDeviceKey(db: SqliteDb, deviceId: string, publicKey: Uint8Array): void {
  db.run("UPDATE user_device SET public_key = ? WHERE device_id = ?", publicKey, deviceId);
}

function insertKeyEvent(db: SqliteDb, event: DeviceKeyEvent): void {
  db.run(
    `INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
     VALUES (?, ?, ?, ?)`,
    event.eventId,
    event.deviceId,
    event.publicKey,
    ms(event.recordedAt),
  );
}

function upsertSession(db: SqliteDb, session: SessionRecord): void {
  const created = ms(session.createdAt);
  db.run(
    `INSERT INTO session (session_id, user_id, device_id, tls_fingerprint, created_at,
       ttl_seconds, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,
       device_id = excluded.device_id, tls_fingerprint = excluded.tls_fingerprint,
       created_at = excluded.created_at, ttl_seconds = excluded.ttl_seconds,
       expires_at = excluded.expires_at`,
    session.sessionId,
    session.userId,
    session.deviceId,
    session.tlsFingerprint,
    created,
    session.ttlSeconds,
    created + session.ttlSeconds * 1000,
  );
}

// sessions

export function putSession(db: SqliteDb, session: SessionRecord): Promise<void> {
  return db.write("session user or device unknown", () => {
    upsertSession(db, session);
  });
}

/** Returns the session even when expired; callers check `createdAt + ttlSeconds`. */
export function getSession(db: SqliteDb, sessionId: string): Promise<SessionRecord | null> {
  return db.read(() => {
    const row = db.get("SELECT * FROM session WHERE session_id = ?", sessionId);
    return row === undefined ? null : sqliteRecords.session(row);
  });
}

export function deleteSessionsForDevice(db: SqliteDb, deviceId: string): Promise<void> {
  return db.write("delete sessions", () => {
    db.run("DELETE FROM session WHERE device_id = ?", deviceId);
  });
}

/** Deletes sessions with `createdAt + ttlSeconds <= now`. */
export function purgeExpiredSessions(db: SqliteDb, now: Date): Promise<number> {
  return db.write(
    "purge sessions",
    () => db.run("DELETE FROM session WHERE expires_at <= ?", ms(now)),
  );
}

export function rotateDeviceKey(db: SqliteDb, rotation: DeviceKeyRotation): Promise<void> {
  return db.write("device already rotated to this key", () =>
    db.transaction(() => {
      const changed = db.run(
        "UPDATE user_device SET public_key = ? WHERE device_id = ? AND public_key = ?",
        rotation.newPublicKey,
        rotation.deviceId,
        rotation.audit.oldPublicKey,
      );
      if (changed !== 1) {
        throw new StoreConflictError("device missing or its key changed meanwhile");
      }
      const e = rotation.event;
      db.run(
        `INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
         VALUES (?, ?, ?, ?)`,
        e.eventId,
        e.deviceId,
        e.publicKey,
        ms(e.recordedAt),
      );
      const a = rotation.audit;
      db.run(
        `INSERT INTO device_rotation_audit (rotation_id, device_id, old_public_key,
           new_public_key, signature, nonce, proof_expires_at, applied_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        a.rotationId,
        a.deviceId,
        a.oldPublicKey,
        a.newPublicKey,
        a.signature,
        a.nonce,
        ms(a.proofExpiresAt),
        ms(a.appliedAt),
      );
    }));
}

export function listDeviceRotations(
  db: SqliteDb,
  deviceId: string,
): Promise<DeviceRotationRecord[]> {
  return db.read(() =>
    db.all(
      `SELECT * FROM device_rotation_audit WHERE device_id = ?
       ORDER BY applied_at DESC, rowid DESC`,
      deviceId,
    ).map(sqliteRecords.rotation)
  );
}
