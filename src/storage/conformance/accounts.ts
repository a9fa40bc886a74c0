/**
 * Conformance cases for pairing codes, friends lists, friend requests,
 * shared-group lookups and device key rotation.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type DeviceKeyEvent, type DeviceRotationRecord, StoreConflictError } from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { assertSame, at, bytes, device, seedDevices, T0, user } from "./fixtures.ts";

function keyEvent(eventId: string, deviceId: string, recordedAt = T0): DeviceKeyEvent {
  return { eventId, deviceId, publicKey: new Uint8Array(32).fill(9), recordedAt };
}

function newDevice(deviceId: string) {
  return {
    deviceId,
    publicKey: new Uint8Array(32).fill(9),
    status: "active" as const,
    createdAt: at(10),
  };
}

async function issued(store: Parameters<ConformanceCase["fn"]>[0], code = "ABCD-EFGH") {
  await seedDevices(store, "alice", ["a1"]);
  await store.createPairing({
    pairCode: code,
    userId: "alice",
    issuerDeviceId: "a1",
    issuedAt: T0,
    expiresAt: at(300),
  });
}

function audit(rotationId: string, oldKey: number, newKey: number): DeviceRotationRecord {
  return {
    rotationId,
    deviceId: "a1",
    oldPublicKey: new Uint8Array(32).fill(oldKey),
    newPublicKey: new Uint8Array(32).fill(newKey),
    signature: new Uint8Array(64).fill(1),
    nonce: bytes(1, 2, 3, 4, 5, 6, 7, 8),
    proofExpiresAt: at(600),
    appliedAt: at(100),
  };
}

/** Pairing, friends, friend requests, shared groups, rotation. */
export const accountCases: ConformanceCase[] = [
  {
    name: "pairing: create, get, duplicate code conflicts",
    fn: async (store) => {
      await issued(store);
      assertSame(await store.getPairing("ABCD-EFGH"), {
        pairCode: "ABCD-EFGH",
        userId: "alice",
        issuerDeviceId: "a1",
        issuedAt: T0,
        expiresAt: at(300),
        redeemedAt: null,
        redeemedDeviceId: null,
        publicKey: null,
        attempts: 0,
      });
      assert.equal(await store.getPairing("ZZZZ-ZZZZ"), null);
      await assert.rejects(
        store.createPairing({
          pairCode: "ABCD-EFGH",
          userId: "alice",
          issuerDeviceId: "a1",
          issuedAt: T0,
          expiresAt: at(60),
        }),
        StoreConflictError,
      );
    },
  },
  {
    name: "pairing: claim inserts device and key event once, then refuses",
    fn: async (store) => {
      await issued(store);
      const result = await store.claimPairing(
        "ABCD-EFGH",
        at(10),
        newDevice("a2"),
        keyEvent("e-a2", "a2", at(10)),
      );
      assert.equal(result.ok, true);
      if (!result.ok) return;
      assert.equal(result.device.userId, "alice");
      assert.equal(result.pairing.redeemedDeviceId, "a2");
      assert.equal(result.pairing.attempts, 1);
      assert.equal(result.pairing.redeemedAt?.getTime(), at(10).getTime());
      assertSame(result.pairing.publicKey, new Uint8Array(32).fill(9));
      assertSame(await store.getDevice("a2"), { ...newDevice("a2"), userId: "alice" });
      assert.equal((await store.latestDeviceKeyEvent("a2"))?.eventId, "e-a2");

      const again = await store.claimPairing(
        "ABCD-EFGH",
        at(11),
        newDevice("a3"),
        keyEvent("e-a3", "a3"),
      );
      assert.deepEqual(again, { ok: false, reason: "redeemed" });
      assert.equal(await store.getDevice("a3"), null);
      assert.equal((await store.getPairing("ABCD-EFGH"))?.attempts, 2);
      assert.deepEqual(
        await store.claimPairing("NOPE-NOPE", at(11), newDevice("a4"), keyEvent("e4", "a4")),
        { ok: false, reason: "not_found" },
      );
    },
  },
  {
    name: "pairing: expired code counts the attempt and inserts nothing",
    fn: async (store) => {
      await issued(store);
      const r = await store.claimPairing(
        "ABCD-EFGH",
        at(300),
        newDevice("a2"),
        keyEvent("e", "a2"),
      );
      assert.deepEqual(r, { ok: false, reason: "expired" });
      assert.equal(await store.getDevice("a2"), null);
      assert.equal(await store.latestDeviceKeyEvent("a2"), null);
      assert.equal((await store.getPairing("ABCD-EFGH"))?.attempts, 1);
    },
  },
  {
    name: "pairing: an existing device id conflicts and rolls back the claim",
    fn: async (store) => {
      await issued(store);
      await assert.rejects(
        store.claimPairing("ABCD-EFGH", at(10), newDevice("a1"), keyEvent("e", "a1")),
        StoreConflictError,
      );
      const p = await store.getPairing("ABCD-EFGH");
      assert.equal(p?.redeemedAt, null);
      assert.equal(p?.attempts, 0);
      assert.equal((await store.getDevice("a1"))?.createdAt.getTime(), T0.getTime());
    },
  },
  {
    name: "pairing: purge removes expired, exhausted and day-old redeemed codes",
    fn: async (store) => {
      await issued(store, "LIVE-AAAA");
      const make = (code: string, expires: number) =>
        store.createPairing({
          pairCode: code,
          userId: "alice",
          issuerDeviceId: "a1",
          issuedAt: T0,
          expiresAt: at(expires),
        });
      await make("OLDX-AAAA", 50);
      await make("TIRE-AAAA", 100_000);
      await make("USED-AAAA", 100_000);
      // Five failed claims (made after TIRE's expiry) exhaust it.
      for (let i = 0; i < 5; i++) {
        const r = await store.claimPairing(
          "TIRE-AAAA",
          at(100_000),
          newDevice("x"),
          keyEvent("e", "x"),
        );
        assert.equal(r.ok, false);
      }
      assert.equal((await store.getPairing("TIRE-AAAA"))?.attempts, 5);
      const used = await store.claimPairing(
        "USED-AAAA",
        at(10),
        newDevice("u1"),
        keyEvent("eu", "u1"),
      );
      assert.equal(used.ok, true);

      // At 100 s: LIVE alive, USED redeemed 90 s ago; OLDX expired, TIRE exhausted.
      assert.equal(await store.purgePairings(at(100)), 2);
      assert.notEqual(await store.getPairing("LIVE-AAAA"), null);
      assert.notEqual(await store.getPairing("USED-AAAA"), null);
      assert.equal(await store.getPairing("OLDX-AAAA"), null);
      assert.equal(await store.getPairing("TIRE-AAAA"), null);
      // An exhausted code is refused even while unexpired.
      await make("MAXD-AAAA", 100_000);
      for (let i = 0; i < 5; i++) {
        await store.claimPairing("MAXD-AAAA", at(100_001), newDevice("y"), keyEvent("ey", "y"));
      }
      assert.deepEqual(
        await store.claimPairing("MAXD-AAAA", at(20), newDevice("y"), keyEvent("ey", "y")),
        { ok: false, reason: "attempts_exhausted" },
      );
      assert.equal(await store.getDevice("y"), null);
    },
  },
  {
    name: "pairing: purge keeps a redeemed code for a day",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1"]);
      await store.createPairing({
        pairCode: "KEEP-AAAA",
        userId: "alice",
        issuerDeviceId: "a1",
        issuedAt: T0,
        expiresAt: at(200_000),
      });
      const r = await store.claimPairing("KEEP-AAAA", at(10), newDevice("a2"), keyEvent("e", "a2"));
      assert.equal(r.ok, true);
      assert.equal(await store.purgePairings(at(10 + 86_399)), 0);
      assert.equal(await store.purgePairings(at(10 + 86_400)), 1);
      assert.equal(await store.getPairing("KEEP-AAAA"), null);
      assert.notEqual(await store.getDevice("a2"), null, "the paired device stays");
    },
  },
  {
    name: "friends: empty by default, put replaces, order and aliases kept",
    fn: async (store) => {
      await store.createUser(user("alice"));
      assert.deepEqual(await store.getFriends("alice"), []);
      await store.putFriends("alice", [
        { userId: "bob", alias: "Bobby" },
        { userId: "carol", alias: null },
      ], T0);
      assert.deepEqual(await store.getFriends("alice"), [
        { userId: "bob", alias: "Bobby" },
        { userId: "carol", alias: null },
      ]);
      await store.putFriends("alice", [{ userId: "dave", alias: null }], at(1));
      assert.deepEqual(await store.getFriends("alice"), [{ userId: "dave", alias: null }]);
      await store.putFriends("alice", [], at(2));
      assert.deepEqual(await store.getFriends("alice"), []);
      await assert.rejects(
        store.putFriends("nobody", [{ userId: "x", alias: null }], T0),
        StoreConflictError,
      );
    },
  },
  {
    name: "friend requests: upsert, lookups, pending-only incoming, status",
    fn: async (store) => {
      const req = {
        id: "fr1",
        fromUserId: "alice",
        toUserId: "bob",
        status: "pending" as const,
        message: "hi",
        createdAt: T0,
        updatedAt: T0,
      };
      assertSame(await store.upsertFriendRequest(req), req);
      assertSame(await store.getFriendRequest("alice", "bob"), req);
      assertSame(await store.getFriendRequestById("fr1"), req);
      assert.equal(await store.getFriendRequest("bob", "alice"), null);
      assert.equal(await store.getFriendRequestById("nope"), null);

      await store.upsertFriendRequest({ ...req, id: "fr2", fromUserId: "carol", createdAt: at(1) });
      assert.deepEqual((await store.listIncomingFriendRequests("bob")).map((r) => r.id), [
        "fr1",
        "fr2",
      ]);
      assert.equal(await store.setFriendRequestStatus("fr1", "accepted", at(5)), true);
      assert.equal(await store.setFriendRequestStatus("nope", "accepted", at(5)), false);
      const accepted = await store.getFriendRequestById("fr1");
      assert.equal(accepted?.status, "accepted");
      assert.equal(accepted?.updatedAt.getTime(), at(5).getTime());
      assert.deepEqual((await store.listIncomingFriendRequests("bob")).map((r) => r.id), ["fr2"]);
      assert.deepEqual((await store.listOutgoingFriendRequests("alice")).map((r) => r.id), ["fr1"]);
      assert.deepEqual(await store.listOutgoingFriendRequests("bob"), []);

      // Re-sending resets to pending with the new message, keeping id and createdAt.
      const again = await store.upsertFriendRequest({
        ...req,
        id: "fr3",
        message: null,
        createdAt: at(9),
        updatedAt: at(9),
      });
      assertSame(again, { ...req, message: null, updatedAt: at(9) });
      assert.equal(await store.getFriendRequestById("fr3"), null);
    },
  },
  {
    name: "groups: devicesShareGroup",
    fn: async (store) => {
      await seedDevices(store, "alice", ["a1", "a2"]);
      await seedDevices(store, "bob", ["b1"]);
      assert.equal(await store.devicesShareGroup("a1", "b1"), false);
      await store.createGroup({ groupId: "g", ownerDevice: "a1", createdAt: T0 }, [
        { groupId: "g", deviceId: "a1", role: "owner", joinedAt: T0 },
        { groupId: "g", deviceId: "b1", role: "member", joinedAt: T0 },
      ]);
      assert.equal(await store.devicesShareGroup("a1", "b1"), true);
      assert.equal(await store.devicesShareGroup("b1", "a1"), true);
      assert.equal(await store.devicesShareGroup("a2", "b1"), false);
      await store.removeGroupMember("g", "b1");
      assert.equal(await store.devicesShareGroup("a1", "b1"), false);
    },
  },
  {
    name: "rotation: key, event and audit in one step; same key again conflicts",
    fn: async (store) => {
      await store.createUser(user("alice"));
      await store.insertDevice(device("a1", "alice", { publicKey: new Uint8Array(32).fill(1) }));
      const first = audit("r1", 1, 2);
      await store.rotateDeviceKey({
        deviceId: "a1",
        newPublicKey: first.newPublicKey,
        event: { ...keyEvent("ev1", "a1", at(100)), publicKey: first.newPublicKey },
        audit: first,
      });
      assertSame((await store.getDevice("a1"))?.publicKey, new Uint8Array(32).fill(2));
      assert.equal((await store.latestDeviceKeyEvent("a1"))?.eventId, "ev1");
      assertSame(await store.listDeviceRotations("a1"), [first]);

      // Stale old key (someone rotated meanwhile): nothing written.
      const stale = audit("r2", 1, 3);
      await assert.rejects(
        store.rotateDeviceKey({
          deviceId: "a1",
          newPublicKey: stale.newPublicKey,
          event: keyEvent("ev2", "a1", at(200)),
          audit: stale,
        }),
        StoreConflictError,
      );
      // Back to key 1, then to key 2 again: UNIQUE (device, new key) refuses it.
      const back = { ...audit("r3", 2, 1), appliedAt: at(300) };
      await store.rotateDeviceKey({
        deviceId: "a1",
        newPublicKey: back.newPublicKey,
        event: keyEvent("ev3", "a1", at(300)),
        audit: back,
      });
      await assert.rejects(
        store.rotateDeviceKey({
          deviceId: "a1",
          newPublicKey: first.newPublicKey,
          event: keyEvent("ev4", "a1", at(400)),
          audit: { ...audit("r4", 1, 2), appliedAt: at(400) },
        }),
        StoreConflictError,
      );
      assertSame((await store.getDevice("a1"))?.publicKey, new Uint8Array(32).fill(1));
      assert.equal((await store.latestDeviceKeyEvent("a1"))?.eventId, "ev3");
      assert.deepEqual((await store.listDeviceRotations("a1")).map((r) => r.rotationId), [
        "r3",
        "r1",
      ]);
      await assert.rejects(
        store.rotateDeviceKey({
          deviceId: "missing",
          newPublicKey: first.newPublicKey,
          event: keyEvent("ev5", "missing"),
          audit: { ...audit("r5", 1, 2), deviceId: "missing" },
        }),
        StoreConflictError,
      );
    },
  },
];
