/**
 * Conformance cases for users, devices, device key events and sessions.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type SessionRecord, StoreConflictError } from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { assertSame, at, bytes, device, seedDevices, T0, user } from "./fixtures.ts";

function session(sessionId: string, deviceId: string, overrides: Partial<SessionRecord> = {}) {
  return {
    sessionId,
    userId: "alice",
    deviceId,
    tlsFingerprint: "fp-" + sessionId,
    createdAt: T0,
    ttlSeconds: 60,
    ...overrides,
  };
}

/** Users, devices, key events, sessions. */
export const identityCases: ConformanceCase[] = [
  {
    name: "users: create, get by id and by handle",
    fn: async (store) => {
      const alice = user("u-alice", {
        handle: "alice",
        displayName: "Alice",
        avatarUrl: "https://a.example/a.png",
        updatedAt: at(5),
      });
      await store.createUser(alice);
      assertSame(await store.getUser("u-alice"), alice);
      assertSame(await store.getUserByHandle("alice", "local"), alice);
      assert.equal(await store.getUserByHandle("alice", "other.example"), null);
      assert.equal(await store.getUserByHandle("bob", "local"), null);
      assert.equal(await store.getUser("u-missing"), null);
    },
  },
  {
    name: "users: handle is unique per domain, id is unique",
    fn: async (store) => {
      await store.createUser(user("u1", { handle: "alice" }));
      await store.createUser(user("u2", { handle: "alice", domain: "remote.example" }));
      await assert.rejects(store.createUser(user("u3", { handle: "alice" })), StoreConflictError);
      await assert.rejects(store.createUser(user("u1", { handle: "other" })), StoreConflictError);
      assert.equal((await store.getUserByHandle("alice", "remote.example"))?.userId, "u2");
      assert.equal(await store.getUser("u3"), null);
      assert.equal((await store.getUser("u1"))?.handle, "alice");
    },
  },
  {
    name: "users: profile patch changes only given fields and stamps updatedAt",
    fn: async (store) => {
      await store.createUser(user("u1", { displayName: "Old", avatarUrl: "https://x/1" }));
      await store.updateUserProfile("u1", { displayName: "New" }, at(10));
      let u = await store.getUser("u1");
      assert.equal(u?.displayName, "New");
      assert.equal(u?.avatarUrl, "https://x/1");
      assert.equal(u?.updatedAt.getTime(), at(10).getTime());
      assert.equal(u?.createdAt.getTime(), T0.getTime());

      await store.updateUserProfile("u1", { avatarUrl: null }, at(20));
      u = await store.getUser("u1");
      assert.equal(u?.displayName, "New");
      assert.equal(u?.avatarUrl, null);
      assert.equal(u?.updatedAt.getTime(), at(20).getTime());

      await store.updateUserProfile("u1", {}, at(30));
      u = await store.getUser("u1");
      assert.equal(u?.displayName, "New");
      assert.equal(u?.updatedAt.getTime(), at(30).getTime());

      await store.updateUserProfile("u-missing", { displayName: "X" }, at(40));
      assert.equal(await store.getUser("u-missing"), null);
    },
  },
  {
    name: "users: list is oldest first with limit and offset",
    fn: async (store) => {
      await store.createUser(user("c", { createdAt: at(3) }));
      await store.createUser(user("a", { createdAt: at(1) }));
      await store.createUser(user("b", { createdAt: at(2) }));
      const ids = async (limit: number, offset: number) =>
        (await store.listUsers(limit, offset)).map((u) => u.userId);
      assert.deepEqual(await ids(10, 0), ["a", "b", "c"]);
      assert.deepEqual(await ids(2, 0), ["a", "b"]);
      assert.deepEqual(await ids(2, 2), ["c"]);
      assert.deepEqual(await ids(2, 5), []);
      assert.deepEqual(await ids(0, 0), []);
      assertSame((await store.listUsers(1, 0))[0], user("a", { createdAt: at(1) }));
    },
  },
  {
    name: "devices: insert, get, duplicate and unknown user conflict",
    fn: async (store) => {
      await store.createUser(user("alice"));
      const d = device("d1", "alice", { publicKey: bytes(1, 2, 3), createdAt: at(1) });
      await store.insertDevice(d);
      assertSame(await store.getDevice("d1"), d);
      assert.equal(await store.getDevice("d-missing"), null);
      await assert.rejects(store.insertDevice(device("d1", "alice")), StoreConflictError);
      await assert.rejects(store.insertDevice(device("d2", "nobody")), StoreConflictError);
      assert.equal(await store.getDevice("d2"), null);
    },
  },
  {
    name: "devices: update key and status, list and count active",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2", "d3"]);
      await seedDevices(store, "bob", ["b1"]);
      await store.updateDeviceKey("d2", bytes(9, 9, 9));
      assertSame((await store.getDevice("d2"))?.publicKey, bytes(9, 9, 9));
      assert.equal(await store.countActiveDevices("alice"), 3);
      await store.setDeviceStatus("d1", "revoked");
      await store.setDeviceStatus("d3", "diagnostic");
      assert.equal((await store.getDevice("d1"))?.status, "revoked");
      assert.equal(await store.countActiveDevices("alice"), 1);
      assert.equal(await store.countActiveDevices("bob"), 1);
      assert.equal(await store.countActiveDevices("nobody"), 0);
      const list = await store.listDevicesForUser("alice");
      assert.deepEqual(list.map((d) => [d.deviceId, d.status]), [
        ["d1", "revoked"],
        ["d2", "active"],
        ["d3", "diagnostic"],
      ]);
      assert.deepEqual(await store.listDevicesForUser("nobody"), []);
      // Updates of a missing device are no-ops.
      await store.updateDeviceKey("d-missing", bytes(1));
      await store.setDeviceStatus("d-missing", "revoked");
      assert.equal(await store.getDevice("d-missing"), null);
    },
  },
  {
    name: "devices: latest key event is the newest recorded",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2"]);
      assert.equal(await store.latestDeviceKeyEvent("d1"), null);
      const newer = { eventId: "e2", deviceId: "d1", publicKey: bytes(2), recordedAt: at(20) };
      const older = { eventId: "e1", deviceId: "d1", publicKey: bytes(1), recordedAt: at(10) };
      await store.recordDeviceKeyEvent(newer);
      await store.recordDeviceKeyEvent(older);
      assertSame(await store.latestDeviceKeyEvent("d1"), newer);
      assert.equal(await store.latestDeviceKeyEvent("d2"), null);
      await assert.rejects(store.recordDeviceKeyEvent(older), StoreConflictError);
      await assert.rejects(
        store.recordDeviceKeyEvent({ ...older, eventId: "e3", deviceId: "d-missing" }),
        StoreConflictError,
      );
    },
  },
  {
    name: "sessions: put replaces, get, delete for device, purge expired",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2"]);
      const s1 = session("s1", "d1");
      await store.putSession(s1);
      assertSame(await store.getSession("s1"), s1);
      assert.equal(await store.getSession("s-missing"), null);

      const refreshed = session("s1", "d1", {
        createdAt: at(100),
        ttlSeconds: 600,
        tlsFingerprint: "x",
      });
      await store.putSession(refreshed);
      assertSame(await store.getSession("s1"), refreshed);

      await store.putSession(session("s2", "d1", { ttlSeconds: 30 }));
      await store.putSession(session("s3", "d2", { ttlSeconds: 30 }));
      await store.putSession(session("s4", "d2", { ttlSeconds: 3600 }));
      await assert.rejects(store.putSession(session("s5", "d-missing")), StoreConflictError);

      await store.deleteSessionsForDevice("d1");
      assert.equal(await store.getSession("s1"), null);
      assert.equal(await store.getSession("s2"), null);
      assert.notEqual(await store.getSession("s3"), null);

      // s3 expires exactly at T0+30 s: expiry is inclusive.
      assert.equal(await store.purgeExpiredSessions(at(29)), 0);
      assert.equal(await store.purgeExpiredSessions(at(30)), 1);
      assert.equal(await store.getSession("s3"), null);
      assert.notEqual(await store.getSession("s4"), null);
      assert.equal(await store.purgeExpiredSessions(at(30)), 0);
    },
  },
  {
    name: "handshake commit: registration writes user, device, key event and session at once",
    fn: async (store) => {
      const alice = user("u-alice", { handle: "alice", displayName: "Alice" });
      const d1 = device("d1", "u-alice", { publicKey: bytes(7) });
      const result = await store.commitHandshake({
        createUser: alice,
        insertDevice: d1,
        keyEvent: { eventId: "e1", deviceId: "d1", publicKey: bytes(7), recordedAt: at(1) },
        session: session("s1", "d1", { userId: "u-alice" }),
      });
      assertSame(result.user, alice);
      assert.equal(result.activeDevices, 1);
      assertSame(await store.getUser("u-alice"), alice);
      assertSame(await store.getDevice("d1"), d1);
      assertSame(await store.latestDeviceKeyEvent("d1"), {
        eventId: "e1",
        deviceId: "d1",
        publicKey: bytes(7),
        recordedAt: at(1),
      });
      assertSame(await store.getSession("s1"), session("s1", "d1", { userId: "u-alice" }));
    },
  },
  {
    name: "handshake commit: a new user's answer counts only an active device",
    fn: async (store) => {
      const bob = user("u-bob", { handle: "bob" });
      const result = await store.commitHandshake({
        createUser: bob,
        insertDevice: device("b1", "u-bob", { status: "diagnostic" }),
        session: session("s1", "b1", { userId: "u-bob" }),
      });
      assertSame(result.user, bob);
      assert.equal(result.activeDevices, 0);
    },
  },
  {
    name: "handshake commit: rotation, profile patch and session; reads back the new state",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2"]);
      await store.setDeviceStatus("d2", "revoked");
      const result = await store.commitHandshake({
        updateDeviceKey: { deviceId: "d1", publicKey: bytes(9) },
        updateProfile: { userId: "alice", patch: { displayName: "Al" }, now: at(20) },
        keyEvent: { eventId: "e2", deviceId: "d1", publicKey: bytes(9), recordedAt: at(20) },
        session: session("s1", "d1"),
      });
      assert.equal(result.user?.displayName, "Al");
      assert.equal(result.user?.updatedAt.getTime(), at(20).getTime());
      assert.equal(result.activeDevices, 1);
      assertSame((await store.getDevice("d1"))?.publicKey, bytes(9));
      assert.equal((await store.latestDeviceKeyEvent("d1"))?.eventId, "e2");
      assertSame(await store.getSession("s1"), session("s1", "d1"));
      // A known device with nothing to change: only the session is written.
      const again = await store.commitHandshake({ session: session("s2", "d1") });
      assert.equal(again.user?.userId, "alice");
      assert.equal(again.activeDevices, 1);
      assert.notEqual(await store.getSession("s2"), null);
    },
  },
  {
    name: "handshake commit: a new device of an existing user is counted with the others",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1", "d2"]);
      // A certificate handshake: the device, its key event and the session, no user.
      const result = await store.commitHandshake({
        insertDevice: device("d3", "alice", { publicKey: bytes(3) }),
        keyEvent: { eventId: "e3", deviceId: "d3", publicKey: bytes(3), recordedAt: at(3) },
        session: session("s3", "d3"),
      });
      assert.equal(result.user?.userId, "alice");
      assert.equal(result.activeDevices, 3);
      // A device that is not active is not counted.
      const diagnostic = await store.commitHandshake({
        insertDevice: device("d4", "alice", { status: "diagnostic" }),
        session: session("s4", "d4"),
      });
      assert.equal(diagnostic.activeDevices, 3);
      assert.equal(await store.countActiveDevices("alice"), 3);
      assert.notEqual(await store.getSession("s4"), null);
    },
  },
  {
    name: "handshake commit: concurrent commits each read back their own user and count",
    fn: async (store) => {
      await seedDevices(store, "alice", ["d1"]);
      // Started together (SQLite commits them in one transaction).
      const [renamed, added, returning] = await Promise.all([
        store.commitHandshake({
          updateProfile: { userId: "alice", patch: { displayName: "Al" }, now: at(20) },
          session: session("s1", "d1"),
        }),
        store.commitHandshake({
          insertDevice: device("d2", "alice"),
          session: session("s2", "d2"),
        }),
        store.commitHandshake({ session: session("s3", "d1") }),
      ]);
      assert.equal(renamed.user?.displayName, "Al");
      assert.equal(added.activeDevices, 2);
      assert.equal(returning.user?.userId, "alice");
      for (const id of ["s1", "s2", "s3"]) assert.notEqual(await store.getSession(id), null);
      assert.equal(await store.countActiveDevices("alice"), 2);
    },
  },
  {
    name: "handshake commit: many concurrent registrations, conflicts fail alone",
    fn: async (store) => {
      // Twelve registrations at once; every third takes the handle of the one before it.
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, n) =>
          store.commitHandshake({
            createUser: user(`u${n}`, { handle: `h${n % 3 === 2 ? n - 1 : n}` }),
            insertDevice: device(`d${n}`, `u${n}`),
            session: session(`s${n}`, `d${n}`, { userId: `u${n}` }),
          })),
      );
      // Of two registrations of one handle, one wins (which one is the backend's
      // business: PostgreSQL runs them at once), the other conflicts.
      const won = results.map((result) => result.status === "fulfilled");
      results.forEach((result, n) => {
        if (result.status === "rejected") {
          assert.ok(result.reason instanceof StoreConflictError, `registration ${n}`);
        }
        if (n % 3 === 0) assert.ok(won[n], `registration ${n}`);
        if (n % 3 === 2) assert.equal(won[n - 1] !== won[n], true, `handle h${n - 1}`);
      });
      for (let n = 0; n < 12; n++) {
        assert.equal((await store.getUser(`u${n}`)) !== null, won[n], `user ${n}`);
        assert.equal((await store.getDevice(`d${n}`)) !== null, won[n], `device ${n}`);
        assert.equal((await store.getSession(`s${n}`)) !== null, won[n], `session ${n}`);
      }
    },
  },
  {
    name: "handshake commit: a conflict writes nothing (all or none)",
    fn: async (store) => {
      await store.createUser(user("taken", { handle: "alice" }));
      // The handle is taken: the user insert fails, so neither device nor session exists.
      await assert.rejects(
        store.commitHandshake({
          createUser: user("u-new", { handle: "alice" }),
          insertDevice: device("d1", "u-new"),
          session: session("s1", "d1", { userId: "u-new" }),
        }),
        StoreConflictError,
      );
      assert.equal(await store.getUser("u-new"), null);
      assert.equal(await store.getDevice("d1"), null);
      assert.equal(await store.getSession("s1"), null);
      // The last write conflicts (duplicate key event id): the earlier ones are rolled back.
      await seedDevices(store, "bob", ["b1"]);
      await store.recordDeviceKeyEvent({
        eventId: "dup",
        deviceId: "b1",
        publicKey: bytes(1),
        recordedAt: T0,
      });
      await assert.rejects(
        store.commitHandshake({
          createUser: user("u-carol", { handle: "carol" }),
          insertDevice: device("c1", "u-carol"),
          keyEvent: { eventId: "dup", deviceId: "c1", publicKey: bytes(2), recordedAt: T0 },
          session: session("s2", "c1", { userId: "u-carol" }),
        }),
        StoreConflictError,
      );
      assert.equal(await store.getUser("u-carol"), null);
      assert.equal(await store.getDevice("c1"), null);
      assert.equal(await store.getSession("s2"), null);
      // The store is usable afterwards.
      const ok = await store.commitHandshake({ session: session("s3", "b1", { userId: "bob" }) });
      assert.equal(ok.activeDevices, 1);
    },
  },
  {
    name: "handshake commit: concurrent commits are independent (one conflict fails alone)",
    fn: async (store) => {
      // Started together, as a storm of registrations does (SQLite shares one transaction).
      const register = (n: number, eventId: string) =>
        store.commitHandshake({
          createUser: user(`u${n}`, { handle: `h${n}` }),
          insertDevice: device(`d${n}`, `u${n}`),
          keyEvent: { eventId, deviceId: `d${n}`, publicKey: bytes(n), recordedAt: T0 },
          session: session(`s${n}`, `d${n}`, { userId: `u${n}` }),
        });
      const [first, taken, third] = await Promise.allSettled([
        register(1, "e1"),
        // Its last write conflicts (the first's key event id): its user and device go too.
        register(2, "e1"),
        register(3, "e3"),
      ]);
      assert.equal(first.status, "fulfilled");
      assert.equal(third.status, "fulfilled");
      assert.ok(taken.status === "rejected" && taken.reason instanceof StoreConflictError);
      assert.notEqual(await store.getDevice("d1"), null);
      assert.notEqual(await store.getSession("s3"), null);
      assert.equal(await store.getUser("u2"), null);
      assert.equal(await store.getDevice("d2"), null);
      assert.equal(await store.latestDeviceKeyEvent("d2"), null);
      assert.equal(await store.getSession("s2"), null);
    },
  },
];
