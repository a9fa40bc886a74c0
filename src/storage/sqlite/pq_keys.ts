/**
 * Device post-quantum public keys on SQLite (`device_pq_keys`).
 *
 * @module
 */
import type { SqliteDb } from "./db.ts";
import { blob, date, ms } from "./rows.ts";
import type { DevicePqKeys } from "../store.ts";

/** Inserts or replaces; an unknown device is a conflict (foreign key). */
export function putDevicePqKeys(db: SqliteDb, keys: DevicePqKeys): Promise<void> {
  return db.write("device unknown", () => {
    db.run(
      `INSERT INTO device_pq_keys (device_id, kem_public, signature_public, device_signature,
         updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET kem_public = excluded.kem_public,
         signature_public = excluded.signature_public,
         device_signature = excluded.device_signature, updated_at = excluded.updated_at`,
      keys.deviceId,
      keys.kemPublic,
      keys.signaturePublic,
      keys.deviceSignature,
      ms(keys.updatedAt),
    );
  });
}

export function getDevicePqKeys(db: SqliteDb, deviceId: string): Promise<DevicePqKeys | null> {
  return db.read(() => {
    const row = db.get("SELECT * FROM device_pq_keys WHERE device_id = ?", deviceId);
    if (row === undefined) return null;
    return {
      deviceId,
      kemPublic: blob(row, "kem_public"),
      signaturePublic: blob(row, "signature_public"),
      deviceSignature: blob(row, "device_signature"),
      updatedAt: date(row, "updated_at"),
    };
  });
}
