/**
 * Device post-quantum public keys on PostgreSQL (`device_pq_keys`).
 *
 * @module
 */
import type { PostgresDb } from "./db.ts";
import { pgBytes, pgDate, validDate } from "./rows.ts";
import type { DevicePqKeys } from "../store.ts";

/** Inserts or replaces; an unknown device is a conflict (foreign key). */
export async function putDevicePqKeys(db: PostgresDb, keys: DevicePqKeys): Promise<void> {
  await db.write(
    "device unknown",
    (sql) =>
      sql`INSERT INTO device_pq_keys (device_id, kem_public, signature_public, device_signature,
        updated_at) VALUES (${keys.deviceId}, ${keys.kemPublic}, ${keys.signaturePublic},
        ${keys.deviceSignature}, ${validDate(keys.updatedAt)})
      ON CONFLICT (device_id) DO UPDATE SET kem_public = EXCLUDED.kem_public,
        signature_public = EXCLUDED.signature_public,
        device_signature = EXCLUDED.device_signature, updated_at = EXCLUDED.updated_at`,
  );
}

export async function getDevicePqKeys(
  db: PostgresDb,
  deviceId: string,
): Promise<DevicePqKeys | null> {
  const [row] = await db.rows((sql) =>
    sql`SELECT * FROM device_pq_keys WHERE device_id = ${deviceId}`
  );
  if (row === undefined) return null;
  return {
    deviceId,
    kemPublic: pgBytes(row, "kem_public"),
    signaturePublic: pgBytes(row, "signature_public"),
    deviceSignature: pgBytes(row, "device_signature"),
    updatedAt: pgDate(row, "updated_at"),
  };
}
