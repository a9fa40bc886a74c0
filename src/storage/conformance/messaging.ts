/**
 * Conformance cases for channel routes, groups, the offline queue, server
 * secrets and idempotency keys.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type GroupMemberRecord,
  type OfflineEnvelope,
  type ServerSecretRecord,
  type Store,
  StoreConflictError,
} from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { assertSame, at, bytes, seedDevices, T0 } from "./fixtures.ts";

function envelope(envelopeId: string, deviceId: string, overrides: Partial<OfflineEnvelope> = {}) {
  return {
    envelopeId,
    deviceId,
    payload: new TextEncoder().encode(`frame ${envelopeId}`),
    deliverAfter: T0,
    expiresAt: at(3600),
    ...overrides,
  };
}

function member(
  groupId: string,
  deviceId: string,
  role: GroupMemberRecord["role"],
  seconds: number,
): GroupMemberRecord {
  return { groupId, deviceId, role, joinedAt: at(seconds) };
}

function secret(name: string, version: number): ServerSecretRecord {
  return {
    name,
    version,
    secret: bytes(version, 1, 2),
    public: version % 2 === 0 ? null : bytes(version, 7),
    metadata: { kind: "noise", n: version, tags: ["a"] },
    createdAt: at(version),
    validAfter: at(version),
    rotatesAt: at(version + 100),
    expiresAt: at(version + 200),
  };
}

async function queuedIds(store: Store, deviceId: string, now = T0, limit = 100) {
  return (await store.loadOfflineQueue(deviceId, { limit, now })).map((e) => e.envelopeId);
}

/** Routes, groups, relay, secrets, idempotency. */
export const messagingCases: ConformanceCase[] = [
  {
    name: "routes: put, get, replace, delete; members keep their order",
    fn: async (store) => {
      assert.equal(await store.getRoute(7), null);
      const route = { channel: 7, members: ["dc", "da", "db"], groupId: null };
      await store.putRoute(route);
      assert.deepEqual(await store.getRoute(7), route);
      const replaced = { channel: 7, members: ["dz", "dy"], groupId: "g1" };
      await store.putRoute(replaced);
      assert.deepEqual(await store.getRoute(7), replaced);
      const big = { channel: 2 ** 40 + 3, members: [], groupId: null };
      await store.putRoute(big);
      assert.deepEqual(await store.getRoute(big.channel), big);
      await store.deleteRoute(7);
      assert.equal(await store.getRoute(7), null);
      assert.deepEqual(await store.getRoute(big.channel), big);
      await store.deleteRoute(7);
    },
  },
  {
    name: "groups: create with members atomically; duplicate conflicts",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2", "d3"]);
      const group = { groupId: "g1", ownerDevice: "d1", createdAt: T0 };
      const members = [member("g1", "d1", "owner", 0), member("g1", "d2", "member", 1)];
      await store.createGroup(group, members);
      assertSame(await store.getGroup("g1"), group);
      assert.equal(await store.getGroup("g-missing"), null);
      assertSame(await store.listGroupMembers("g1"), members);

      await assert.rejects(
        store.createGroup(group, [member("g1", "d3", "member", 2)]),
        StoreConflictError,
      );
      assertSame(await store.listGroupMembers("g1"), members, "failed create added a member");

      // A member with an unknown device fails the whole creation.
      await assert.rejects(
        store.createGroup({ groupId: "g2", ownerDevice: "d1", createdAt: T0 }, [
          member("g2", "d1", "owner", 0),
          member("g2", "d-missing", "member", 1),
        ]),
        StoreConflictError,
      );
      assert.equal(await store.getGroup("g2"), null);
      assert.deepEqual(await store.listGroupMembers("g2"), []);
    },
  },
  {
    name: "groups: upsert member role, remove member",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2", "d3"]);
      await store.createGroup({ groupId: "g1", ownerDevice: "d1", createdAt: T0 }, [
        member("g1", "d1", "owner", 0),
      ]);
      await store.upsertGroupMember(member("g1", "d2", "member", 5));
      await store.upsertGroupMember(member("g1", "d3", "member", 6));
      // Role change keeps the original join time.
      await store.upsertGroupMember(member("g1", "d2", "admin", 50));
      assertSame(await store.listGroupMembers("g1"), [
        member("g1", "d1", "owner", 0),
        member("g1", "d2", "admin", 5),
        member("g1", "d3", "member", 6),
      ]);
      await store.removeGroupMember("g1", "d1");
      await store.removeGroupMember("g1", "d-missing");
      assert.deepEqual((await store.listGroupMembers("g1")).map((m) => m.deviceId), ["d2", "d3"]);
      await assert.rejects(
        store.upsertGroupMember(member("g-missing", "d2", "member", 1)),
        StoreConflictError,
      );
    },
  },
  {
    name: "offline queue: FIFO per device with afterPosition paging",
    fn: async (store) => {
      await store.enqueueOffline([envelope("e1", "dev")]);
      await store.enqueueOffline([envelope("x1", "other"), envelope("e2", "dev")]);
      await store.enqueueOffline([envelope("e3", "dev"), envelope("e4", "dev")]);
      await store.enqueueOffline([]);
      const all = await store.loadOfflineQueue("dev", { limit: 100, now: T0 });
      assert.deepEqual(all.map((e) => e.envelopeId), ["e1", "e2", "e3", "e4"]);
      for (let i = 1; i < all.length; i++) assert.ok(all[i].position > all[i - 1].position);
      assert.equal(typeof all[0].position, "bigint");
      const { position: _p, ...first } = all[0];
      assertSame(first, envelope("e1", "dev"));

      const page1 = await store.loadOfflineQueue("dev", { limit: 2, now: T0 });
      assert.deepEqual(page1.map((e) => e.envelopeId), ["e1", "e2"]);
      const page2 = await store.loadOfflineQueue("dev", {
        limit: 2,
        now: T0,
        afterPosition: page1[1].position,
      });
      assert.deepEqual(page2.map((e) => e.envelopeId), ["e3", "e4"]);
      const page3 = await store.loadOfflineQueue("dev", {
        limit: 2,
        now: T0,
        afterPosition: page2[1].position,
      });
      assert.deepEqual(page3, []);
      assert.deepEqual(await queuedIds(store, "other"), ["x1"]);
      assert.deepEqual(await queuedIds(store, "nobody"), []);
      assert.deepEqual(await queuedIds(store, "dev", T0, 0), []);
      // Loading does not remove.
      assert.equal(await store.countOfflineQueue("dev", T0), 4);
    },
  },
  {
    name: "offline queue: deliverAfter in the future and expired envelopes are hidden",
    fn: async (store) => {
      await store.enqueueOffline([
        envelope("now", "dev"),
        envelope("later", "dev", { deliverAfter: at(60) }),
        envelope("short", "dev", { expiresAt: at(30) }),
      ]);
      assert.deepEqual(await queuedIds(store, "dev", T0), ["now", "short"]);
      assert.deepEqual(await queuedIds(store, "dev", at(29)), ["now", "short"]);
      // Expiry is exclusive: at expiresAt the envelope is gone.
      assert.deepEqual(await queuedIds(store, "dev", at(30)), ["now"]);
      assert.deepEqual(await queuedIds(store, "dev", at(60)), ["now", "later"]);
      // Count includes not-yet-deliverable, excludes expired.
      assert.equal(await store.countOfflineQueue("dev", T0), 3);
      assert.equal(await store.countOfflineQueue("dev", at(30)), 2);
      assert.equal(await store.countOfflineTotal(), 3);
    },
  },
  {
    name: "offline queue: purge removes expired envelopes of every device",
    fn: async (store) => {
      await store.enqueueOffline([
        envelope("a1", "a", { expiresAt: at(10) }),
        envelope("a2", "a", { expiresAt: at(100) }),
        envelope("b1", "b", { expiresAt: at(10) }),
      ]);
      assert.equal(await store.purgeExpiredOffline(at(9)), 0);
      assert.equal(await store.purgeExpiredOffline(at(10)), 2);
      assert.equal(await store.countOfflineTotal(), 1);
      assert.deepEqual(await queuedIds(store, "a", at(10)), ["a2"]);
      assert.equal(await store.purgeExpiredOffline(at(10)), 0);
    },
  },
  {
    name: "offline queue: delete removes only the named envelopes of that device",
    fn: async (store) => {
      await store.enqueueOffline([
        envelope("a1", "a"),
        envelope("a2", "a"),
        envelope("a3", "a"),
        envelope("b1", "b"),
      ]);
      assert.equal(await store.deleteOffline("a", ["a1", "a3", "b1", "missing"]), 2);
      assert.deepEqual(await queuedIds(store, "a"), ["a2"]);
      assert.deepEqual(await queuedIds(store, "b"), ["b1"]);
      assert.equal(await store.deleteOffline("a", []), 0);
      assert.equal(await store.deleteOffline("a", ["a1"]), 0);
      assert.equal(await store.countOfflineTotal(), 2);
    },
  },
  {
    name: "offline queue: a batch with a duplicate envelope id stores nothing",
    fn: async (store) => {
      await store.enqueueOffline([envelope("e1", "dev")]);
      await assert.rejects(
        store.enqueueOffline([envelope("e2", "dev"), envelope("e1", "dev")]),
        StoreConflictError,
      );
      await assert.rejects(
        store.enqueueOffline([envelope("e3", "dev"), envelope("e3", "other")]),
        StoreConflictError,
      );
      assert.deepEqual(await queuedIds(store, "dev"), ["e1"]);
      assert.equal(await store.countOfflineTotal(), 1);
      // The store stays usable after the failed batches.
      await store.enqueueOffline([envelope("e2", "dev")]);
      assert.deepEqual(await queuedIds(store, "dev"), ["e1", "e2"]);
    },
  },
  {
    name: "offline queue: a batch inserts and removes atomically, each removal in its own queue",
    fn: async (store) => {
      await store.enqueueOffline([envelope("a1", "a"), envelope("b1", "b")]);
      await store.writeOfflineBatch([envelope("a2", "a"), envelope("c1", "c")], [
        { deviceId: "a", envelopeId: "a1" },
        { deviceId: "a", envelopeId: "b1" }, // b's row: not a's to remove
        { deviceId: "c", envelopeId: "c1" }, // inserted by this very batch
        { deviceId: "x", envelopeId: "missing" },
      ]);
      assert.deepEqual(await queuedIds(store, "a"), ["a2"]);
      assert.deepEqual(await queuedIds(store, "b"), ["b1"]);
      assert.deepEqual(await queuedIds(store, "c"), []);
      // A conflicting insert fails the whole batch: the removal did not happen either.
      await assert.rejects(
        store.writeOfflineBatch([envelope("a2", "a")], [{ deviceId: "b", envelopeId: "b1" }]),
        StoreConflictError,
      );
      assert.deepEqual(await queuedIds(store, "b"), ["b1"]);
      await store.writeOfflineBatch([], []);
      await store.writeOfflineBatch([], [{ deviceId: "b", envelopeId: "b1" }]);
      assert.deepEqual(await queuedIds(store, "b"), []);
    },
  },
  {
    name: "offline queue: usage per recipient and per sender user, unexpired rows only",
    fn: async (store) => {
      const payload = (n: number) => new Uint8Array(n);
      await store.enqueueOffline([
        envelope("a1", "a", { payload: payload(10), senderUser: "u1" }),
        envelope("a2", "a", { payload: payload(20), senderUser: "u2" }),
        envelope("b1", "b", { payload: payload(30), senderUser: "u1" }),
        envelope("b2", "b", { payload: payload(40), senderUser: "u1", expiresAt: at(10) }),
        envelope("c1", "c", { payload: payload(50) }),
      ]);
      const usage = await store.offlineQueueUsage(["a", "b", "nobody"], "u1", at(10));
      assert.deepEqual(Object.fromEntries(usage.recipients), {
        a: { frames: 2, bytes: 30 },
        b: { frames: 1, bytes: 30 },
      });
      assert.deepEqual(usage.sender, { frames: 2, bytes: 40 });
      // The server's own rows belong to no sender.
      const server = await store.offlineQueueUsage(["c"], "", T0);
      assert.deepEqual(server.sender, { frames: 0, bytes: 0 });
      assert.deepEqual(server.recipients.get("c"), { frames: 1, bytes: 50 });
      assert.equal((await store.offlineQueueUsage([], "u2", T0)).recipients.size, 0);
    },
  },
  {
    name: "secrets: newest first, round trip, conflict, delete",
    fn: async (store) => {
      await store.insertSecret(secret("noise", 2));
      await store.insertSecret(secret("noise", 3));
      await store.insertSecret(secret("noise", 1));
      await store.insertSecret(secret("admin", 1));
      assertSame(await store.listSecrets("noise"), [
        secret("noise", 3),
        secret("noise", 2),
        secret("noise", 1),
      ]);
      await assert.rejects(store.insertSecret(secret("noise", 2)), StoreConflictError);
      await store.deleteSecret("noise", 2);
      await store.deleteSecret("noise", 99);
      assert.deepEqual((await store.listSecrets("noise")).map((s) => s.version), [3, 1]);
      assert.deepEqual((await store.listSecrets("admin")).map((s) => s.version), [1]);
      assert.deepEqual(await store.listSecrets("none"), []);
    },
  },
  {
    name: "idempotency: a key is claimed once per scope",
    fn: async (store) => {
      assert.equal(await store.claimIdempotencyKey("k1", "register", T0), true);
      assert.equal(await store.claimIdempotencyKey("k1", "register", at(1)), false);
      assert.equal(await store.claimIdempotencyKey("k1", "pair", T0), true);
      assert.equal(await store.claimIdempotencyKey("k2", "register", T0), true);
      await store.releaseIdempotencyKey("k1", "register");
      assert.equal(await store.claimIdempotencyKey("k1", "register", at(2)), true, "released");
      assert.equal(await store.claimIdempotencyKey("k1", "pair", at(2)), false, "other scope kept");
    },
  },
];
