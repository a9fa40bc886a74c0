/**
 * Store failures mid-traffic: the server answers `unavailable` instead of
 * crashing, recovers by itself when the store comes back, and loses nothing
 * it acknowledged (the store is wrapped so its methods fail on demand).
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { openStore, type Store } from "../src/storage/mod.ts";
import { befriend, partyOf } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { expectRefused, makeHello, openRawSession, RawConnection, within } from "./helpers/raw.ts";

/** A store whose named methods reject while switched on ("*" = all but close). */
interface FaultyStore {
  store: Store;
  fail(...methods: string[]): void;
  heal(): void;
  /** Injected failures of `method` so far. */
  failures(method: string): number;
}

function faultyStore(inner: Store): FaultyStore {
  const failing = new Set<string>();
  const counts = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args: unknown[]) => {
        if (failing.has(prop) || (failing.has("*") && prop !== "close")) {
          counts.set(prop, (counts.get(prop) ?? 0) + 1);
          return Promise.reject(new Error(`injected failure of store.${prop}`));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    fail: (...methods) => methods.forEach((m) => failing.add(m)),
    heal: () => failing.clear(),
    failures: (method) => counts.get(method) ?? 0,
  };
}

async function startFaulty(): Promise<{ srv: TestServer; faults: FaultyStore }> {
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-robust-" });
  const faults = faultyStore(
    await openStore({ backend: "sqlite", path: `${dataDir}/commucat.db` }, {
      migrate: true,
      createIfNew: true,
    }),
  );
  const srv = await startTestServer({ dataDir }, { store: faults.store });
  const stop = srv.stop;
  srv.stop = async () => {
    await stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  };
  return { srv, faults };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function pair(srv: TestServer, channel: number) {
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  const alice = await within(CommuCatClient.connect(connectOptions(srv, aliceDevice)), "alice");
  const bob = await within(CommuCatClient.connect(connectOptions(srv, bobDevice)), "bob");
  await befriend(srv, alice, bob);
  await within(alice.join(channel, [bobDevice.deviceId]), "join");
  return { alice, bob, bobDevice };
}

Deno.test("robustness: an acked live frame survives its recipient dropping while the store is down", async () => {
  const { srv, faults } = await startFaulty();
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  const alice = await within(CommuCatClient.connect(connectOptions(srv, aliceDevice)), "alice");
  // Bob is driven by hand: he never sends a delivery ack.
  const bob = await within(openRawSession(srv, bobDevice), "bob");
  let bob2: CommuCatClient | null = null;
  try {
    await befriend(srv, alice, partyOf(bob.ack));
    await within(alice.join(31, [bobDevice.deviceId]), "join");
    await within(alice.send(31, "live, never acked"), "the sender's Ack");
    const got = await within(bob.next(), "the live frame");
    assert.equal(fromUtf8(got!.payload), "live, never acked");
    // Bob goes away without acking while the store is down: nothing needs
    // writing then, the sender's Ack already meant the frame was stored
    // (PROTOCOL.md §4; before, the copy lived in memory and a requeue after
    // ~35 s of outage dropped it).
    const open = () =>
      Object.values(srv.server.counters.connectionsByMode).reduce((sum, n) => sum + n, 0);
    const before = open();
    faults.fail("*");
    await bob.conn.close();
    // The server ends bob's connection while the store is down (a fixed sleep let a loaded
    // machine heal the store first, and the test then checked nothing of the outage).
    await until("the server to end bob's connection", () => open() === before - 1);
    faults.heal();
    bob2 = await within(CommuCatClient.connect(connectOptions(srv, bobDevice)), "bob again");
    const again = await within(bob2.next(), "the requeued frame");
    assert.equal(fromUtf8(again!.payload), "live, never acked");
  } finally {
    alice.close();
    bob2?.close();
    await srv.stop();
  }
});

Deno.test("robustness: a failed inbox drain is retried when the store recovers", async () => {
  const { srv, faults } = await startFaulty();
  const { alice, bob, bobDevice } = await pair(srv, 32);
  let bob2: CommuCatClient | null = null;
  try {
    await within(bob.closeGracefully(), "bob to leave");
    await within(alice.send(32, "stored while away"), "the sender's Ack");
    faults.fail("loadOfflineQueue");
    bob2 = await within(CommuCatClient.connect(connectOptions(srv, bobDevice)), "bob again");
    await until("the failed drain", () => faults.failures("loadOfflineQueue") > 0);
    faults.heal();
    const got = await within(bob2.next(), "the stored frame");
    assert.equal(fromUtf8(got!.payload), "stored while away");
  } finally {
    alice.close();
    bob2?.close();
    await srv.stop();
  }
});

Deno.test("robustness: a store outage mid-traffic answers unavailable, then recovers", async () => {
  const { srv, faults } = await startFaulty();
  const { alice, bob, bobDevice } = await pair(srv, 33);
  let bob2: CommuCatClient | null = null;
  try {
    await within(bob.closeGracefully(), "bob to leave");
    faults.fail("*");
    // Offline member: the frame cannot be stored, so it is refused, not acked.
    await assert.rejects(
      within(alice.send(33, "not stored"), "the Error"),
      (e: unknown) => e instanceof ServerError && e.code === "unavailable",
    );
    // A route that is not cached: the lookup fails.
    await assert.rejects(
      within(alice.join(34, [bobDevice.deviceId]), "the Error"),
      (e: unknown) => e instanceof ServerError && e.code === "unavailable",
    );
    // New connections are refused while the store is down; the server stays up.
    await assert.rejects(CommuCatClient.connect(connectOptions(srv, bobDevice)));
    faults.heal();
    await within(alice.send(33, "after the outage"), "the sender's Ack");
    await within(alice.join(34, [bobDevice.deviceId]), "join after the outage");
    bob2 = await within(CommuCatClient.connect(connectOptions(srv, bobDevice)), "bob again");
    const got = await within(bob2.next(), "the stored frame");
    assert.equal(got!.type, FrameType.Msg);
    assert.equal(fromUtf8(got!.payload), "after the outage");
  } finally {
    alice.close();
    bob2?.close();
    await srv.stop();
  }
});

Deno.test("robustness: a store failure inside the handshake answers an Error, then a close", async () => {
  const { srv, faults } = await startFaulty();
  try {
    faults.fail("getUserByHandle");
    const conn = await RawConnection.open(srv);
    conn.write(makeHello(srv, newDevice()).bytes);
    const error = await within(
      expectRefused(conn).finally(() => conn.close()),
      "the handshake Error",
    );
    assert.equal(error.error, "handshake");
    assert.ok(faults.failures("getUserByHandle") > 0);
    faults.heal();
    const ok = await within(CommuCatClient.connect(connectOptions(srv, newDevice())), "a client");
    ok.close();
  } finally {
    await srv.stop();
  }
});
