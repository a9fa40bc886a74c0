/**
 * MLS key packages on SQLite (`mls_key_package`). Every write runs in a
 * `BEGIN IMMEDIATE` transaction, so takers and uploaders (of any process
 * sharing the file) serialise: a one-time package is handed out once.
 *
 * @module
 */
import type { SqliteDb } from "./db.ts";
import { blob, date, int, ms, type Row } from "./rows.ts";
import type { KeyPackageRecord, KeyPackageStock, KeyPackageStoreResult } from "../store.ts";

function toKeyPackage(row: Row): KeyPackageRecord {
  return {
    deviceId: String(row.device_id),
    packageHash: blob(row, "package_hash"),
    data: blob(row, "data"),
    deviceSignature: blob(row, "device_signature"),
    cipherSuite: int(row, "cipher_suite"),
    lastResort: int(row, "last_resort") === 1,
    createdAt: date(row, "created_at"),
    expiresAt: date(row, "expires_at"),
  };
}

function stockOf(db: SqliteDb, deviceId: string, now: Date): KeyPackageStock {
  const row = db.get(
    `SELECT COALESCE(SUM(1 - last_resort), 0) AS one_time, COALESCE(MAX(last_resort), 0) AS lr
     FROM mls_key_package WHERE device_id = ? AND expires_at > ?`,
    deviceId,
    ms(now),
  );
  return { oneTime: Number(row?.one_time ?? 0), lastResort: Number(row?.lr ?? 0) === 1 };
}

function insert(db: SqliteDb, p: KeyPackageRecord): number {
  return db.run(
    `INSERT INTO mls_key_package (device_id, package_hash, data, device_signature, cipher_suite,
       last_resort, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (device_id, package_hash) DO NOTHING`,
    p.deviceId,
    p.packageHash,
    p.data,
    p.deviceSignature,
    p.cipherSuite,
    p.lastResort ? 1 : 0,
    ms(p.createdAt),
    ms(p.expiresAt),
  );
}

export function storeKeyPackages(
  db: SqliteDb,
  deviceId: string,
  packages: KeyPackageRecord[],
  maxOneTime: number,
  now: Date,
): Promise<KeyPackageStoreResult> {
  return db.write("device unknown", () =>
    db.transaction((): KeyPackageStoreResult => {
      const before = stockOf(db, deviceId, now);
      const fresh = packages.filter((p) =>
        !p.lastResort &&
        db.get(
            "SELECT 1 FROM mls_key_package WHERE device_id = ? AND package_hash = ?",
            deviceId,
            p.packageHash,
          ) === undefined
      );
      const distinct = new Set(fresh.map((p) => p.packageHash.toString())).size;
      if (before.oneTime + distinct > maxOneTime) return { ok: false, stock: before };
      db.run(
        "DELETE FROM mls_key_package WHERE device_id = ? AND expires_at <= ?",
        deviceId,
        ms(now),
      );
      let stored = 0;
      for (const p of packages) {
        if (p.deviceId !== deviceId) throw new RangeError("package of another device");
        if (p.lastResort) {
          db.run(
            `DELETE FROM mls_key_package
             WHERE device_id = ? AND last_resort = 1 AND package_hash <> ?`,
            deviceId,
            p.packageHash,
          );
        }
        const inserted = insert(db, p);
        stored += inserted;
        if (p.lastResort && inserted === 0) {
          // The same bytes were held as a one-time package: they become the last resort.
          db.run(
            "UPDATE mls_key_package SET last_resort = 1 WHERE device_id = ? AND package_hash = ?",
            deviceId,
            p.packageHash,
          );
        }
      }
      return { ok: true, stored, stock: stockOf(db, deviceId, now) };
    }));
}

export function consumeKeyPackage(
  db: SqliteDb,
  deviceId: string,
  now: Date,
): Promise<KeyPackageRecord | null> {
  return db.write("consume key package", () =>
    db.transaction(() => {
      const oneTime = db.get(
        `DELETE FROM mls_key_package WHERE position = (SELECT position FROM mls_key_package
           WHERE device_id = ? AND last_resort = 0 AND expires_at > ? ORDER BY position LIMIT 1)
         RETURNING *`,
        deviceId,
        ms(now),
      );
      if (oneTime !== undefined) return toKeyPackage(oneTime);
      const lastResort = db.get(
        `SELECT * FROM mls_key_package WHERE device_id = ? AND last_resort = 1 AND expires_at > ?
         ORDER BY position DESC LIMIT 1`,
        deviceId,
        ms(now),
      );
      return lastResort === undefined ? null : toKeyPackage(lastResort);
    }));
}

export function keyPackageStock(
  db: SqliteDb,
  deviceIds: string[],
  now: Date,
): Promise<Map<string, KeyPackageStock>> {
  return db.read(() => new Map(deviceIds.map((id) => [id, stockOf(db, id, now)])));
}

export function deleteKeyPackages(db: SqliteDb, deviceId: string): Promise<number> {
  return db.write(
    "delete key packages",
    () => db.run("DELETE FROM mls_key_package WHERE device_id = ?", deviceId),
  );
}

export function purgeExpiredKeyPackages(db: SqliteDb, now: Date): Promise<number> {
  return db.write(
    "purge key packages",
    () => db.run("DELETE FROM mls_key_package WHERE expires_at <= ?", ms(now)),
  );
}
