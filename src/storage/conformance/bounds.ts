/**
 * Conformance cases for what keeps state bounded or unambiguous (#19 §3):
 * pending pairing codes per user, the retention of idempotency keys, and
 * secret versions that are never reused.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  IDEMPOTENCY_KEY_RETENTION_MS,
  type ServerSecretRecord,
  type Store,
  StoreConflictError,
} from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { at, seedDevices, T0 } from "./fixtures.ts";

function issue(store: Store, code: string, issuedAt: number, maxPending?: number) {
  return store.createPairing(
    {
      pairCode: code,
      userId: "alice",
      issuerDeviceId: "a1",
      issuedAt: at(issuedAt),
      expiresAt: at(issuedAt + 300),
    },
    maxPending,
  );
}

function secret(name: string, version: number): ServerSecretRecord {
  return {
    name,
    version,
    secret: new Uint8Array(32).fill(version),
    public: null,
    metadata: {},
    createdAt: T0,
    validAfter: T0,
    rotatesAt: at(100),
    expiresAt: at(200),
  };
}

/** Pending pairing codes per user, idempotency key retention, secret versions. */
export const boundCases: ConformanceCase[] = [
  {
    name: "pairing: with maxPending, issuing one more deletes the user's oldest pending code",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1"]);
      await seedDevices(store, "bob", ["b1"]);
      await store.createPairing({
        pairCode: "BOBS-CODE",
        userId: "bob",
        issuerDeviceId: "b1",
        issuedAt: T0,
        expiresAt: at(300),
      });
      for (let i = 0; i < 3; i++) assert.equal(await issue(store, `CODE-000${i}`, i, 3), 0);
      // The fourth replaces the oldest; bob's code is not alice's to lose.
      assert.equal(await issue(store, "CODE-0003", 3, 3), 1);
      assert.equal(await store.getPairing("CODE-0000"), null);
      for (const kept of ["CODE-0001", "CODE-0002", "CODE-0003", "BOBS-CODE"]) {
        assert.notEqual(await store.getPairing(kept), null, kept);
      }
      // Without maxPending nothing is deleted (the caller decides the bound).
      assert.equal(await issue(store, "CODE-0004", 4), 0);
      assert.notEqual(await store.getPairing("CODE-0001"), null);
    },
  },
  {
    name: "pairing: only pending codes count against maxPending (not redeemed or expired)",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1"]);
      await issue(store, "USED-0000", 0);
      const claimed = await store.claimPairing("USED-0000", at(1), {
        deviceId: "a2",
        publicKey: new Uint8Array(32).fill(9),
        status: "active",
        createdAt: at(1),
      }, {
        eventId: "e",
        deviceId: "a2",
        publicKey: new Uint8Array(32).fill(9),
        recordedAt: at(1),
      });
      assert.equal(claimed.ok, true);
      await issue(store, "GONE-0000", -400); // expired at T0 − 100 s
      await issue(store, "LIVE-0000", 2);
      // At 10 s: one pending (LIVE); with maxPending 2 the new one fits beside it.
      assert.equal(await issue(store, "LIVE-0001", 10, 2), 0);
      for (const kept of ["USED-0000", "GONE-0000", "LIVE-0000", "LIVE-0001"]) {
        assert.notEqual(await store.getPairing(kept), null, kept);
      }
      // maxPending 1: the new code is the only pending one left.
      assert.equal(await issue(store, "LIVE-0002", 11, 1), 2);
      assert.equal(await store.getPairing("LIVE-0000"), null);
      assert.equal(await store.getPairing("LIVE-0001"), null);
      assert.notEqual(await store.getPairing("USED-0000"), null, "a redeemed code is not pending");
    },
  },
  {
    name: "idempotency: keys are purged once older than the retention, not before",
    fn: async (store) => {
      const retention = IDEMPOTENCY_KEY_RETENTION_MS / 1000;
      assert.equal(await store.claimIdempotencyKey("old", "federation", T0), true);
      assert.equal(await store.claimIdempotencyKey("new", "federation", at(100)), true);
      assert.equal(await store.purgeIdempotencyKeys(at(retention)), 0, "exactly at the edge: kept");
      assert.equal(await store.purgeIdempotencyKeys(at(retention + 1)), 1);
      assert.equal(await store.claimIdempotencyKey("old", "federation", at(retention + 2)), true);
      assert.equal(await store.claimIdempotencyKey("new", "federation", at(retention + 2)), false);
    },
  },
  {
    name: "secrets: the high-water mark survives deletes; neverReused refuses an old version",
    fn: async (store) => {
      assert.equal(await store.latestSecretVersion("admin-token"), 0);
      await store.insertSecret(secret("admin-token", 1), { neverReused: true });
      await store.insertSecret(secret("admin-token", 2), { neverReused: true });
      await store.insertSecret(secret("other", 9));
      assert.equal(await store.latestSecretVersion("admin-token"), 2);
      await store.deleteSecret("admin-token", 2); // revoked
      assert.equal(await store.latestSecretVersion("admin-token"), 2, "deleted, not forgotten");
      await assert.rejects(
        store.insertSecret(secret("admin-token", 2), { neverReused: true }),
        StoreConflictError,
      );
      await store.insertSecret(secret("admin-token", 3), { neverReused: true });
      assert.equal(await store.latestSecretVersion("admin-token"), 3);
      assert.equal(await store.latestSecretVersion("other"), 9, "per name");
      // Without the option an old number can still be written (noise keys decide for themselves).
      await store.deleteSecret("other", 9);
      await store.insertSecret(secret("other", 1));
      assert.equal(await store.latestSecretVersion("other"), 9);
      // Two writers aiming at the same version: one wins.
      const results = await Promise.allSettled([
        store.insertSecret(secret("admin-token", 4), { neverReused: true }),
        store.insertSecret(secret("admin-token", 4), { neverReused: true }),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    },
  },
];
