/**
 * Server secrets, device pairing, friends and idempotency keys on PostgreSQL:
 * plain functions over the pool, called by {@link PostgresStore}.
 *
 * @module
 */
import { decodeFriends, encodeFriends, FRIENDS_BLOB_KEY } from "../friends_blob.ts";
import { PAIRING_REDEEMED_RETENTION_MS, pairingUnusable } from "../pairing_rules.ts";
import type { PostgresDb } from "./db.ts";
import { pgRecords, pgText, validDate } from "./rows.ts";
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

// server secrets

export async function listSecrets(db: PostgresDb, name: string): Promise<ServerSecretRecord[]> {
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM server_secret WHERE name = ${name} ORDER BY version DESC`
  );
  return rows.map(pgRecords.secret);
}

/** The mark's row lock (FOR UPDATE) serializes inserts of one name. */
export async function insertSecret(
  db: PostgresDb,
  secret: ServerSecretRecord,
  options: { neverReused?: boolean } = {},
): Promise<void> {
  const what = `secret ${secret.name} version ${secret.version} exists or was issued before`;
  await db.write(what, (sql) =>
    sql.begin(async (tx) => {
      await tx`INSERT INTO secret_version (name, latest) VALUES (${secret.name}, 0)
        ON CONFLICT (name) DO NOTHING`;
      const [mark] = await tx`SELECT latest FROM secret_version WHERE name = ${secret.name}
        FOR UPDATE`;
      if (options.neverReused && secret.version <= Number(mark?.latest ?? 0)) {
        throw new StoreConflictError(what);
      }
      await tx`INSERT INTO server_secret (name, version, secret, public, metadata, created_at,
        valid_after, rotates_at, expires_at) VALUES (${secret.name}, ${secret.version},
        ${secret.secret}, ${secret.public}, ${JSON.stringify(secret.metadata)}::text::jsonb,
        ${validDate(secret.createdAt)}, ${validDate(secret.validAfter)},
        ${validDate(secret.rotatesAt)}, ${validDate(secret.expiresAt)})`;
      await tx`UPDATE secret_version SET latest = GREATEST(latest, ${secret.version})
        WHERE name = ${secret.name}`;
    }));
}

export async function latestSecretVersion(db: PostgresDb, name: string): Promise<number> {
  const [row] = await db.rows((sql) =>
    sql`SELECT GREATEST(
      COALESCE((SELECT latest FROM secret_version WHERE name = ${name}), 0),
      COALESCE((SELECT MAX(version) FROM server_secret WHERE name = ${name}), 0)) AS latest`
  );
  return Number(row?.latest ?? 0);
}

export async function deleteSecret(db: PostgresDb, name: string, version: number): Promise<void> {
  await db.write(
    "delete secret",
    (sql) => sql`DELETE FROM server_secret WHERE name = ${name} AND version = ${version}`,
  );
}

// pairing

/** With `maxPending`, the user's row lock (FOR UPDATE) serializes concurrent issues. */
export async function createPairing(
  db: PostgresDb,
  pairing: Omit<PairingRecord, "redeemedAt" | "redeemedDeviceId" | "publicKey" | "attempts">,
  maxPending?: number,
): Promise<number> {
  const issuedAt = validDate(pairing.issuedAt);
  return await db.write(
    "pairing code exists or issuer unknown",
    (sql) =>
      sql.begin(async (tx): Promise<number> => {
        let replaced = 0;
        if (maxPending !== undefined) {
          await tx`SELECT 1 FROM app_user WHERE user_id = ${pairing.userId} FOR UPDATE`;
          // Keep the newest maxPending − 1 pending codes; the new one makes maxPending.
          const deleted = await tx`DELETE FROM device_pairing WHERE pair_code IN (
            SELECT pair_code FROM device_pairing
            WHERE user_id = ${pairing.userId} AND redeemed_at IS NULL
              AND attempts < ${PAIRING_MAX_ATTEMPTS} AND expires_at > ${issuedAt}
            ORDER BY issued_at DESC, pair_code DESC OFFSET ${Math.max(0, maxPending - 1)})`;
          replaced = deleted.count;
        }
        await tx`INSERT INTO device_pairing (pair_code, user_id, issuer_device_id, issued_at,
          expires_at) VALUES (${pairing.pairCode}, ${pairing.userId}, ${pairing.issuerDeviceId},
          ${issuedAt}, ${validDate(pairing.expiresAt)})`;
        return replaced;
      }),
  );
}

export async function getPairing(db: PostgresDb, pairCode: string): Promise<PairingRecord | null> {
  const [row] = await db.rows((sql) =>
    sql`SELECT * FROM device_pairing WHERE pair_code = ${pairCode}`
  );
  return row === undefined ? null : pgRecords.pairing(row);
}

/** The row lock (FOR UPDATE) serializes concurrent claims of one code. */
export async function claimPairing(
  db: PostgresDb,
  pairCode: string,
  now: Date,
  device: Omit<DeviceRecord, "userId">,
  keyEvent: DeviceKeyEvent,
): Promise<PairingClaimResult> {
  validDate(now);
  return await db.write(
    "device exists",
    (sql) =>
      sql.begin(async (tx): Promise<PairingClaimResult> => {
        const [row] = await tx`SELECT * FROM device_pairing WHERE pair_code = ${pairCode}
        FOR UPDATE`;
        if (row === undefined) return { ok: false, reason: "not_found" };
        const pairing = pgRecords.pairing(row);
        const reason = pairingUnusable(pairing, now);
        if (reason !== null) {
          await tx`UPDATE device_pairing SET attempts = attempts + 1
          WHERE pair_code = ${pairCode}`;
          return { ok: false, reason };
        }
        const inserted: DeviceRecord = { ...device, userId: pairing.userId };
        await tx`INSERT INTO user_device (device_id, user_id, public_key, status, created_at)
        VALUES (${inserted.deviceId}, ${inserted.userId}, ${inserted.publicKey},
        ${inserted.status}, ${validDate(inserted.createdAt)})`;
        await tx`INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
        VALUES (${keyEvent.eventId}, ${keyEvent.deviceId}, ${keyEvent.publicKey},
        ${validDate(keyEvent.recordedAt)})`;
        const [updated] = await tx`UPDATE device_pairing SET redeemed_at = ${now},
          redeemed_device_id = ${inserted.deviceId}, public_key = ${inserted.publicKey},
          attempts = attempts + 1
        WHERE pair_code = ${pairCode} RETURNING *`;
        return { ok: true, pairing: pgRecords.pairing(updated), device: inserted };
      }),
  );
}

export async function purgePairings(db: PostgresDb, now: Date): Promise<number> {
  const cutoff = new Date(validDate(now).getTime() - PAIRING_REDEEMED_RETENTION_MS);
  const result = await db.write(
    "purge pairings",
    (sql) =>
      sql`DELETE FROM device_pairing WHERE expires_at <= ${now}
        OR attempts >= ${PAIRING_MAX_ATTEMPTS}
        OR (redeemed_at IS NOT NULL AND redeemed_at <= ${cutoff})`,
  );
  return result.count;
}

// friends

export async function getFriends(db: PostgresDb, userId: string): Promise<FriendEntry[]> {
  const [row] = await db.rows((sql) =>
    sql`SELECT payload FROM user_blob WHERE user_id = ${userId} AND key = ${FRIENDS_BLOB_KEY}`
  );
  return row === undefined ? [] : decodeFriends(pgText(row, "payload"));
}

export async function putFriends(
  db: PostgresDb,
  userId: string,
  entries: FriendEntry[],
  now: Date,
): Promise<void> {
  await db.write(
    "user unknown",
    (sql) =>
      sql`INSERT INTO user_blob (user_id, key, payload, updated_at)
      VALUES (${userId}, ${FRIENDS_BLOB_KEY}, ${encodeFriends(entries)}, ${validDate(now)})
      ON CONFLICT (user_id, key) DO UPDATE SET payload = excluded.payload,
        updated_at = excluded.updated_at`,
  );
}

export async function upsertFriendRequest(
  db: PostgresDb,
  request: FriendRequestRecord,
): Promise<FriendRequestRecord> {
  const [row] = await db.write(
    "friend request id exists",
    (sql) =>
      sql`INSERT INTO friend_requests (id, from_user_id, to_user_id, status, message,
        created_at, updated_at) VALUES (${request.id}, ${request.fromUserId},
        ${request.toUserId}, 'pending', ${request.message}, ${validDate(request.createdAt)},
        ${validDate(request.updatedAt)})
      ON CONFLICT (from_user_id, to_user_id) DO UPDATE SET status = 'pending',
        message = excluded.message, updated_at = excluded.updated_at
      RETURNING *`,
  );
  return pgRecords.friendRequest(row);
}

export async function getFriendRequest(
  db: PostgresDb,
  fromUserId: string,
  toUserId: string,
): Promise<FriendRequestRecord | null> {
  const [row] = await db.rows((sql) =>
    sql`SELECT * FROM friend_requests
      WHERE from_user_id = ${fromUserId} AND to_user_id = ${toUserId}`
  );
  return row === undefined ? null : pgRecords.friendRequest(row);
}

export async function getFriendRequestById(
  db: PostgresDb,
  id: string,
): Promise<FriendRequestRecord | null> {
  const [row] = await db.rows((sql) => sql`SELECT * FROM friend_requests WHERE id = ${id}`);
  return row === undefined ? null : pgRecords.friendRequest(row);
}

export async function listIncomingFriendRequests(
  db: PostgresDb,
  userId: string,
): Promise<FriendRequestRecord[]> {
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM friend_requests WHERE to_user_id = ${userId} AND status = 'pending'
      ORDER BY created_at, ctid`
  );
  return rows.map(pgRecords.friendRequest);
}

export async function listOutgoingFriendRequests(
  db: PostgresDb,
  userId: string,
): Promise<FriendRequestRecord[]> {
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM friend_requests WHERE from_user_id = ${userId}
      ORDER BY created_at, ctid`
  );
  return rows.map(pgRecords.friendRequest);
}

export async function setFriendRequestStatus(
  db: PostgresDb,
  id: string,
  status: FriendRequestStatus,
  now: Date,
): Promise<boolean> {
  const result = await db.write(
    "set friend request status",
    (sql) =>
      sql`UPDATE friend_requests SET status = ${status}, updated_at = ${validDate(now)}
      WHERE id = ${id}`,
  );
  return result.count === 1;
}

// idempotency

export async function claimIdempotencyKey(
  db: PostgresDb,
  key: string,
  scope: string,
  now: Date,
): Promise<boolean> {
  const result = await db.write(
    "claim idempotency key",
    (sql) =>
      sql`INSERT INTO idempotency (key, scope, created_at) VALUES (${key}, ${scope},
      ${validDate(now)}) ON CONFLICT (key, scope) DO NOTHING`,
  );
  return result.count === 1;
}

export async function releaseIdempotencyKey(
  db: PostgresDb,
  key: string,
  scope: string,
): Promise<void> {
  await db.write(
    "release idempotency key",
    (sql) => sql`DELETE FROM idempotency WHERE key = ${key} AND scope = ${scope}`,
  );
}

export async function purgeIdempotencyKeys(db: PostgresDb, now: Date): Promise<number> {
  const cutoff = new Date(validDate(now).getTime() - IDEMPOTENCY_KEY_RETENTION_MS);
  const result = await db.write(
    "purge idempotency keys",
    (sql) => sql`DELETE FROM idempotency WHERE created_at < ${cutoff}`,
  );
  return result.count;
}
