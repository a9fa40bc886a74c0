/**
 * Server secrets, device pairing, friends and idempotency keys on SQLite:
 * plain functions over the open database, called by {@link SqliteStore}.
 *
 * @module
 */
import { decodeFriends, encodeFriends, FRIENDS_BLOB_KEY } from "../friends_blob.ts";
import { PAIRING_REDEEMED_RETENTION_MS, pairingUnusable } from "../pairing_rules.ts";
import type { SqliteDb } from "./db.ts";
import { ms, sqliteRecords, text } from "./rows.ts";
import {
  type DeviceKeyEvent,
  type DeviceRecord,
  type FriendEntry,
  type FriendRequestRecord,
  type FriendRequestStatus,
  IDEMPOTENCY_KEY_RETENTION_MS,
  PAIRING_MAX_ATTEMPTS,
  type PairingClaimResult,
  type PairingRecord,
  type ServerSecretRecord,
  StoreConflictError,
} from "../store.ts";

export function listSecrets(db: SqliteDb, name: string): Promise<ServerSecretRecord[]> {
  return db.read(() =>
    db.all("SELECT * FROM server_secret WHERE name = ? ORDER BY version DESC", name).map(
      sqliteRecords.secret,
    )
  );
}

export function insertSecret(
  db: SqliteDb,
  secret: ServerSecretRecord,
  options: { neverReused?: boolean } = {},
): Promise<void> {
  const what = `secret ${secret.name} version ${secret.version} exists or was issued before`;
  return db.write(what, () =>
    db.transaction(() => {
      if (options.neverReused && secret.version <= latestVersion(db, secret.name)) {
        throw new StoreConflictError(what);
      }
      db.run(
        `INSERT INTO server_secret (name, version, secret, public, metadata, created_at,
         valid_after, rotates_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        secret.name,
        secret.version,
        secret.secret,
        secret.public,
        JSON.stringify(secret.metadata),
        ms(secret.createdAt),
        ms(secret.validAfter),
        ms(secret.rotatesAt),
        ms(secret.expiresAt),
      );
      db.run(
        `INSERT INTO secret_version (name, latest) VALUES (?, ?)
         ON CONFLICT (name) DO UPDATE SET latest = MAX(latest, excluded.latest)`,
        secret.name,
        secret.version,
      );
    }));
}

export function latestSecretVersion(db: SqliteDb, name: string): Promise<number> {
  return db.read(() => latestVersion(db, name));
}

/** The high-water mark, or the rows' maximum if higher (rows written around the mark). */
function latestVersion(db: SqliteDb, name: string): number {
  const row = db.get(
    `SELECT MAX(COALESCE((SELECT latest FROM secret_version WHERE name = ?1), 0),
       COALESCE((SELECT MAX(version) FROM server_secret WHERE name = ?1), 0)) AS latest`,
    name,
  );
  return Number(row?.latest ?? 0);
}

export function deleteSecret(db: SqliteDb, name: string, version: number): Promise<void> {
  return db.write("delete secret", () => {
    db.run("DELETE FROM server_secret WHERE name = ? AND version = ?", name, version);
  });
}

// pairing

export function createPairing(
  db: SqliteDb,
  pairing: Omit<PairingRecord, "redeemedAt" | "redeemedDeviceId" | "publicKey" | "attempts">,
  maxPending?: number,
): Promise<number> {
  return db.write("pairing code exists or issuer unknown", () =>
    db.transaction(() => {
      let replaced = 0;
      if (maxPending !== undefined) {
        // Keep the newest maxPending − 1 pending codes; the new one makes maxPending.
        replaced = db.run(
          `DELETE FROM device_pairing WHERE pair_code IN (
             SELECT pair_code FROM device_pairing
             WHERE user_id = ? AND redeemed_at IS NULL AND attempts < ? AND expires_at > ?
             ORDER BY issued_at DESC, pair_code DESC LIMIT -1 OFFSET ?)`,
          pairing.userId,
          PAIRING_MAX_ATTEMPTS,
          ms(pairing.issuedAt),
          Math.max(0, maxPending - 1),
        );
      }
      db.run(
        `INSERT INTO device_pairing (pair_code, user_id, issuer_device_id, issued_at, expires_at)
         VALUES (?, ?, ?, ?, ?)`,
        pairing.pairCode,
        pairing.userId,
        pairing.issuerDeviceId,
        ms(pairing.issuedAt),
        ms(pairing.expiresAt),
      );
      return replaced;
    }));
}

export function getPairing(db: SqliteDb, pairCode: string): Promise<PairingRecord | null> {
  return db.read(() => {
    const row = db.get("SELECT * FROM device_pairing WHERE pair_code = ?", pairCode);
    return row === undefined ? null : sqliteRecords.pairing(row);
  });
}

export function claimPairing(
  db: SqliteDb,
  pairCode: string,
  now: Date,
  device: Omit<DeviceRecord, "userId">,
  keyEvent: DeviceKeyEvent,
): Promise<PairingClaimResult> {
  return db.write("device exists", () =>
    db.transaction((): PairingClaimResult => {
      const row = db.get("SELECT * FROM device_pairing WHERE pair_code = ?", pairCode);
      if (row === undefined) return { ok: false, reason: "not_found" };
      const pairing = sqliteRecords.pairing(row);
      const reason = pairingUnusable(pairing, now);
      if (reason !== null) {
        db.run(
          "UPDATE device_pairing SET attempts = attempts + 1 WHERE pair_code = ?",
          pairCode,
        );
        return { ok: false, reason };
      }
      const inserted: DeviceRecord = { ...device, userId: pairing.userId };
      db.run(
        `INSERT INTO user_device (device_id, user_id, public_key, status, created_at)
         VALUES (?, ?, ?, ?, ?)`,
        inserted.deviceId,
        inserted.userId,
        inserted.publicKey,
        inserted.status,
        ms(inserted.createdAt),
      );
      db.run(
        `INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
         VALUES (?, ?, ?, ?)`,
        keyEvent.eventId,
        keyEvent.deviceId,
        keyEvent.publicKey,
        ms(keyEvent.recordedAt),
      );
      db.run(
        `UPDATE device_pairing SET redeemed_at = ?, redeemed_device_id = ?, public_key = ?,
           attempts = attempts + 1 WHERE pair_code = ?`,
        ms(now),
        inserted.deviceId,
        inserted.publicKey,
        pairCode,
      );
      const updated = db.get("SELECT * FROM device_pairing WHERE pair_code = ?", pairCode);
      return { ok: true, pairing: sqliteRecords.pairing(updated!), device: inserted };
    }));
}

export function purgePairings(db: SqliteDb, now: Date): Promise<number> {
  return db.write("purge pairings", () =>
    db.run(
      `DELETE FROM device_pairing WHERE expires_at <= ? OR attempts >= ?
         OR (redeemed_at IS NOT NULL AND redeemed_at <= ?)`,
      ms(now),
      PAIRING_MAX_ATTEMPTS,
      ms(now) - PAIRING_REDEEMED_RETENTION_MS,
    ));
}

// friends

export function getFriends(db: SqliteDb, userId: string): Promise<FriendEntry[]> {
  return db.read(() => {
    const row = db.get(
      "SELECT payload FROM user_blob WHERE user_id = ? AND key = ?",
      userId,
      FRIENDS_BLOB_KEY,
    );
    return row === undefined ? [] : decodeFriends(text(row, "payload"));
  });
}

export function putFriends(
  db: SqliteDb,
  userId: string,
  entries: FriendEntry[],
  now: Date,
): Promise<void> {
  return db.write("user unknown", () => {
    db.run(
      `INSERT INTO user_blob (user_id, key, payload, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, key) DO UPDATE SET payload = excluded.payload,
         updated_at = excluded.updated_at`,
      userId,
      FRIENDS_BLOB_KEY,
      encodeFriends(entries),
      ms(now),
    );
  });
}

export function upsertFriendRequest(
  db: SqliteDb,
  request: FriendRequestRecord,
): Promise<FriendRequestRecord> {
  return db.write("friend request id exists", () => {
    db.run(
      `INSERT INTO friend_requests (id, from_user_id, to_user_id, status, message, created_at,
         updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)
       ON CONFLICT (from_user_id, to_user_id) DO UPDATE SET status = 'pending',
         message = excluded.message, updated_at = excluded.updated_at`,
      request.id,
      request.fromUserId,
      request.toUserId,
      request.message,
      ms(request.createdAt),
      ms(request.updatedAt),
    );
    const row = db.get(
      "SELECT * FROM friend_requests WHERE from_user_id = ? AND to_user_id = ?",
      request.fromUserId,
      request.toUserId,
    );
    return sqliteRecords.friendRequest(row!);
  });
}

export function getFriendRequest(
  db: SqliteDb,
  fromUserId: string,
  toUserId: string,
): Promise<FriendRequestRecord | null> {
  return db.read(() => {
    const row = db.get(
      "SELECT * FROM friend_requests WHERE from_user_id = ? AND to_user_id = ?",
      fromUserId,
      toUserId,
    );
    return row === undefined ? null : sqliteRecords.friendRequest(row);
  });
}

export function getFriendRequestById(
  db: SqliteDb,
  id: string,
): Promise<FriendRequestRecord | null> {
  return db.read(() => {
    const row = db.get("SELECT * FROM friend_requests WHERE id = ?", id);
    return row === undefined ? null : sqliteRecords.friendRequest(row);
  });
}

export function listIncomingFriendRequests(
  db: SqliteDb,
  userId: string,
): Promise<FriendRequestRecord[]> {
  return db.read(() =>
    db.all(
      `SELECT * FROM friend_requests WHERE to_user_id = ? AND status = 'pending'
       ORDER BY created_at, rowid`,
      userId,
    ).map(sqliteRecords.friendRequest)
  );
}

export function listOutgoingFriendRequests(
  db: SqliteDb,
  userId: string,
): Promise<FriendRequestRecord[]> {
  return db.read(() =>
    db.all(
      "SELECT * FROM friend_requests WHERE from_user_id = ? ORDER BY created_at, rowid",
      userId,
    ).map(sqliteRecords.friendRequest)
  );
}

export function setFriendRequestStatus(
  db: SqliteDb,
  id: string,
  status: FriendRequestStatus,
  now: Date,
): Promise<boolean> {
  return db.write("set friend request status", () =>
    db.run(
      "UPDATE friend_requests SET status = ?, updated_at = ? WHERE id = ?",
      status,
      ms(now),
      id,
    ) === 1);
}

export function claimIdempotencyKey(
  db: SqliteDb,
  key: string,
  scope: string,
  now: Date,
): Promise<boolean> {
  return db.write("claim idempotency key", () =>
    db.run(
      `INSERT INTO idempotency (key, scope, created_at) VALUES (?, ?, ?)
       ON CONFLICT (key, scope) DO NOTHING`,
      key,
      scope,
      ms(now),
    ) === 1);
}

export function releaseIdempotencyKey(db: SqliteDb, key: string, scope: string): Promise<void> {
  return db.write("release idempotency key", () => {
    db.run(`DELETE FROM idempotency WHERE key = ? AND scope = ?`, key, scope);
  });
}

export function purgeIdempotencyKeys(db: SqliteDb, now: Date): Promise<number> {
  return db.write("purge idempotency keys", () =>
    db.run(
      "DELETE FROM idempotency WHERE created_at < ?",
      ms(now) - IDEMPOTENCY_KEY_RETENTION_MS,
    ));
}
