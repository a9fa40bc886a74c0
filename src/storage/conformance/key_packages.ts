/**
 * Conformance cases for MLS key packages: upload bounds and dedupe, one
 * last-resort package per device, atomic take (concurrent takers never get
 * the same package), expiry.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type KeyPackageRecord, StoreConflictError } from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { assertSame, at, seedDevices } from "./fixtures.ts";

/** A package of `deviceId` whose bytes (and hash) are derived from `n`. */
export function keyPackage(
  deviceId: string,
  n: number,
  overrides: Partial<KeyPackageRecord> = {},
): KeyPackageRecord {
  return {
    deviceId,
    packageHash: new Uint8Array(32).fill(n),
    data: new Uint8Array([n, n + 1, n + 2]),
    deviceSignature: new Uint8Array(64).fill(n),
    cipherSuite: 1,
    lastResort: false,
    createdAt: at(n),
    expiresAt: at(3600),
    ...overrides,
  };
}

/** MLS key packages. */
export const keyPackageCases: ConformanceCase[] = [
  {
    name:
      "key packages: stored once each, taken oldest first and deleted; then the last resort stays",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1", "a2"]);
      const now = at(10);
      assert.equal(await store.consumeKeyPackage("a1", now), null);
      const first = await store.storeKeyPackages(
        "a1",
        [keyPackage("a1", 1), keyPackage("a1", 2), keyPackage("a1", 1)],
        10,
        now,
      );
      assert.deepEqual(first, { ok: true, stored: 2, stock: { oneTime: 2, lastResort: false } });
      const again = await store.storeKeyPackages("a1", [keyPackage("a1", 2)], 10, now);
      assert.deepEqual(again, { ok: true, stored: 0, stock: { oneTime: 2, lastResort: false } });
      const lr = keyPackage("a1", 9, { lastResort: true });
      const withLast = await store.storeKeyPackages("a1", [lr], 10, now);
      assert.deepEqual(withLast, { ok: true, stored: 1, stock: { oneTime: 2, lastResort: true } });

      assertSame(await store.consumeKeyPackage("a1", now), keyPackage("a1", 1));
      assertSame(await store.consumeKeyPackage("a1", now), keyPackage("a1", 2));
      assertSame(await store.consumeKeyPackage("a1", now), lr, "last resort");
      assertSame(await store.consumeKeyPackage("a1", now), lr, "…not consumed");
      assert.equal(await store.consumeKeyPackage("a2", now), null, "per device");
      const stock = await store.keyPackageStock(["a1", "a2", "ghost"], now);
      assert.deepEqual(stock.get("a1"), { oneTime: 0, lastResort: true });
      assert.deepEqual(stock.get("a2"), { oneTime: 0, lastResort: false });
      assert.deepEqual(stock.get("ghost"), { oneTime: 0, lastResort: false });
    },
  },
  {
    name: "key packages: a new last resort replaces the old; over the bound nothing is written",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1"]);
      const now = at(10);
      await store.storeKeyPackages("a1", [keyPackage("a1", 7, { lastResort: true })], 3, now);
      const replaced = keyPackage("a1", 8, { lastResort: true });
      await store.storeKeyPackages("a1", [replaced], 3, now);
      assertSame(await store.consumeKeyPackage("a1", now), replaced);
      await store.storeKeyPackages("a1", [keyPackage("a1", 1), keyPackage("a1", 2)], 3, now);
      const over = await store.storeKeyPackages(
        "a1",
        [keyPackage("a1", 3), keyPackage("a1", 4)],
        3,
        now,
      );
      assert.deepEqual(over, { ok: false, stock: { oneTime: 2, lastResort: true } });
      const stock = await store.keyPackageStock(["a1"], now);
      assert.deepEqual(stock.get("a1"), { oneTime: 2, lastResort: true }, "nothing written");
      // Re-sending held packages does not count against the bound.
      const fill = await store.storeKeyPackages(
        "a1",
        [keyPackage("a1", 1), keyPackage("a1", 3)],
        3,
        now,
      );
      assert.deepEqual(fill, { ok: true, stored: 1, stock: { oneTime: 3, lastResort: true } });
      await assert.rejects(
        store.storeKeyPackages("ghost", [keyPackage("ghost", 1)], 3, now),
        StoreConflictError,
      );
    },
  },
  {
    name: "key packages: expired ones are never handed out, make room, and are purged",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1"]);
      await store.storeKeyPackages(
        "a1",
        [
          keyPackage("a1", 1, { expiresAt: at(100) }),
          keyPackage("a1", 2, { expiresAt: at(500) }),
          keyPackage("a1", 9, { lastResort: true, expiresAt: at(100) }),
        ],
        2,
        at(10),
      );
      const later = at(200);
      assert.deepEqual((await store.keyPackageStock(["a1"], later)).get("a1"), {
        oneTime: 1,
        lastResort: false,
      });
      const room = await store.storeKeyPackages("a1", [keyPackage("a1", 3)], 2, later);
      assert.equal(room.ok, true, "the expired package does not count");
      assertSame(
        await store.consumeKeyPackage("a1", later),
        keyPackage("a1", 2, { expiresAt: at(500) }),
      );
      assertSame(await store.consumeKeyPackage("a1", later), keyPackage("a1", 3));
      assert.equal(await store.consumeKeyPackage("a1", later), null, "expired last resort");
      await store.storeKeyPackages("a1", [keyPackage("a1", 4, { expiresAt: at(300) })], 2, later);
      assert.equal(await store.purgeExpiredKeyPackages(at(400)), 1);
      await store.storeKeyPackages("a1", [keyPackage("a1", 5)], 2, at(10));
      assert.equal(await store.deleteKeyPackages("a1"), 1);
      assert.equal(await store.consumeKeyPackage("a1", at(10)), null);
    },
  },
  {
    name: "key packages: concurrent takers never get the same package",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1"]);
      const now = at(10);
      const packages = Array.from({ length: 12 }, (_, i) => keyPackage("a1", i + 1));
      await store.storeKeyPackages("a1", packages, 100, now);
      const taken = await Promise.all(
        Array.from({ length: 12 }, () => store.consumeKeyPackage("a1", now)),
      );
      const got = taken.filter((p) => p !== null).map((p) => p.data[0]);
      assert.equal(new Set(got).size, got.length, "no package handed out twice");
      // Every package went to someone, or is still there for the next taker.
      const rest: number[] = [];
      for (let p = await store.consumeKeyPackage("a1", now); p !== null;) {
        rest.push(p.data[0]);
        p = await store.consumeKeyPackage("a1", now);
      }
      assert.deepEqual([...got, ...rest].sort((a, b) => a - b), packages.map((p) => p.data[0]));
    },
  },
];
