/**
 * Conformance cases for devices' post-quantum public keys.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type DevicePqKeys, StoreConflictError } from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { assertSame, at, seedDevices } from "./fixtures.ts";

function keys(deviceId: string, fill: number, updatedAt = at(1)): DevicePqKeys {
  return {
    deviceId,
    kemPublic: new Uint8Array(1184).fill(fill),
    signaturePublic: new Uint8Array(1952).fill(fill + 1),
    deviceSignature: new Uint8Array(64).fill(fill + 2),
    updatedAt,
  };
}

/** Device post-quantum keys. */
export const pqKeyCases: ConformanceCase[] = [
  {
    name: "device pq keys: put, get, replace; an unknown device is a conflict",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1", "a2"]);
      assert.equal(await store.getDevicePqKeys("a1"), null);
      await store.putDevicePqKeys(keys("a1", 1));
      assertSame(await store.getDevicePqKeys("a1"), keys("a1", 1));
      assert.equal(await store.getDevicePqKeys("a2"), null, "per device");
      await store.putDevicePqKeys(keys("a1", 7, at(9)));
      assertSame(await store.getDevicePqKeys("a1"), keys("a1", 7, at(9)), "replaced, not added");
      await assert.rejects(store.putDevicePqKeys(keys("ghost", 1)), StoreConflictError);
    },
  },
];
