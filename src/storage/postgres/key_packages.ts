/**
 * MLS key packages on PostgreSQL (`mls_key_package`). A take deletes the
 * oldest one-time package it can lock (`FOR UPDATE SKIP LOCKED`), so
 * concurrent takers on any instance never get the same one; uploads of one
 * device serialise on its `user_device` row lock, so the bound holds.
 *
 * @module
 */
import { toHex } from "../../crypto/mod.ts";
import type { PostgresDb } from "./db.ts";
import { pgBool, pgBytes, pgDate, pgInt, type PgRow, pgText, validDate } from "./rows.ts";
import {
  type KeyPackageRecord,
  type KeyPackageStock,
  type KeyPackageStoreResult,
  StoreConflictError,
} from "../store.ts";

function toKeyPackage(row: PgRow): KeyPackageRecord {
  return {
    deviceId: pgText(row, "device_id"),
    packageHash: pgBytes(row, "package_hash"),
    data: pgBytes(row, "data"),
    deviceSignature: pgBytes(row, "device_signature"),
    cipherSuite: pgInt(row, "cipher_suite"),
    lastResort: pgBool(row, "last_resort"),
    createdAt: pgDate(row, "created_at"),
    expiresAt: pgDate(row, "expires_at"),
  };
}

function toStock(row: PgRow | undefined): KeyPackageStock {
  return { oneTime: Number(row?.one_time ?? 0), lastResort: row?.lr === true };
}

export async function storeKeyPackages(
  db: PostgresDb,
  deviceId: string,
  packages: KeyPackageRecord[],
  maxOneTime: number,
  now: Date,
): Promise<KeyPackageStoreResult> {
  const at = validDate(now);
  return await db.write(
    "device unknown",
    (sql) =>
      sql.begin(async (tx): Promise<KeyPackageStoreResult> => {
        const device = await tx`SELECT 1 FROM user_device WHERE device_id = ${deviceId} FOR UPDATE`;
        if (device.length === 0) throw new StoreConflictError("device unknown");
        const stock = async () =>
          toStock(
            (await tx`SELECT COUNT(*) FILTER (WHERE NOT last_resort)::int AS one_time,
              COALESCE(BOOL_OR(last_resort), false) AS lr
            FROM mls_key_package WHERE device_id = ${deviceId} AND expires_at > ${at}`)[0],
          );
        const before = await stock();
        const oneTime = packages.filter((p) => !p.lastResort);
        const hashes = oneTime.map((p) => toHex(p.packageHash));
        const known = hashes.length === 0 ? [] : await tx`SELECT encode(package_hash, 'hex') AS h
        FROM mls_key_package WHERE device_id = ${deviceId}
          AND encode(package_hash, 'hex') = ANY(${tx.array(hashes)}::text[])`;
        const held = new Set(known.map((r) => pgText(r, "h")));
        const fresh = new Set(hashes.filter((h) => !held.has(h)));
        if (before.oneTime + fresh.size > maxOneTime) return { ok: false, stock: before };
        await tx`DELETE FROM mls_key_package WHERE device_id = ${deviceId} AND expires_at <= ${at}`;
        let stored = 0;
        for (const p of packages) {
          if (p.deviceId !== deviceId) throw new RangeError("package of another device");
          if (p.lastResort) {
            await tx`DELETE FROM mls_key_package WHERE device_id = ${deviceId} AND last_resort
            AND package_hash <> ${p.packageHash}`;
          }
          const inserted = await tx`INSERT INTO mls_key_package (device_id, package_hash, data,
            device_signature, cipher_suite, last_resort, created_at, expires_at)
          VALUES (${deviceId}, ${p.packageHash}, ${p.data}, ${p.deviceSignature},
            ${p.cipherSuite}, ${p.lastResort}, ${validDate(p.createdAt)},
            ${validDate(p.expiresAt)})
          ON CONFLICT (device_id, package_hash) DO NOTHING`;
          stored += inserted.count;
          if (p.lastResort && inserted.count === 0) {
            // The same bytes were held as a one-time package: they become the last resort.
            await tx`UPDATE mls_key_package SET last_resort = true
            WHERE device_id = ${deviceId} AND package_hash = ${p.packageHash}`;
          }
        }
        return { ok: true, stored, stock: await stock() };
      }),
  );
}

export async function consumeKeyPackage(
  db: PostgresDb,
  deviceId: string,
  now: Date,
): Promise<KeyPackageRecord | null> {
  const at = validDate(now);
  return await db.write("consume key package", async (sql) => {
    const [taken] = await sql`DELETE FROM mls_key_package WHERE position = (
        SELECT position FROM mls_key_package
        WHERE device_id = ${deviceId} AND NOT last_resort AND expires_at > ${at}
        ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING *`;
    if (taken !== undefined) return toKeyPackage(taken);
    const [lastResort] = await sql`SELECT * FROM mls_key_package
      WHERE device_id = ${deviceId} AND last_resort AND expires_at > ${at}
      ORDER BY position DESC LIMIT 1`;
    return lastResort === undefined ? null : toKeyPackage(lastResort);
  });
}

export async function keyPackageStock(
  db: PostgresDb,
  deviceIds: string[],
  now: Date,
): Promise<Map<string, KeyPackageStock>> {
  const out = new Map<string, KeyPackageStock>(
    deviceIds.map((id) => [id, { oneTime: 0, lastResort: false }]),
  );
  if (deviceIds.length === 0) return out;
  const rows = await db.rows((sql) =>
    sql`SELECT device_id, COUNT(*) FILTER (WHERE NOT last_resort)::int AS one_time,
        BOOL_OR(last_resort) AS lr
      FROM mls_key_package WHERE device_id = ANY(${sql.array(deviceIds)}::text[])
        AND expires_at > ${validDate(now)}
      GROUP BY device_id`
  );
  for (const row of rows) out.set(pgText(row, "device_id"), toStock(row));
  return out;
}

export async function deleteKeyPackages(db: PostgresDb, deviceId: string): Promise<number> {
  const result = await db.write(
    "delete key packages",
    (sql) => sql`DELETE FROM mls_key_package WHERE device_id = ${deviceId}`,
  );
  return result.count;
}

export async function purgeExpiredKeyPackages(db: PostgresDb, now: Date): Promise<number> {
  const result = await db.write(
    "purge key packages",
    (sql) => sql`DELETE FROM mls_key_package WHERE expires_at <= ${validDate(now)}`,
  );
  return result.count;
}
