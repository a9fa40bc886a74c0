/**
 * The durable-copy window (`router.durable_copy_delay_ms`) through the
 * router and the offline queue, on a fake clock: a copy acknowledged within
 * the window is never written, one that is not is written when its window
 * ends, and the sender's Ack waits for one or the other. On SQLite, and on
 * PostgreSQL when `COMMUCAT_TEST_PG_DSN` is set.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { decodeFrame, encodeFrame, type Frame, FrameType } from "../proto/mod.ts";
import { openPostgresStore, type Store } from "../storage/mod.ts";
import { Delivery } from "../session/delivery.ts";
import { RouteError } from "./errors.ts";
import {
  copyBytes,
  type EnvelopeRef,
  KeptCopies,
  LazyEncodedFrame,
  sweepTick,
} from "./kept_copies.ts";
import type { DeliveryOrigin, Peer, PeerCloseReason } from "./peer.ts";
import { AckWhenDurable, replyWhenDone } from "./router.ts";
import { FakeClock, openRouterWorld, type RouterWorld } from "./testing.ts";

const WINDOW_MS = 200;
const EMPTY = new TextEncoder().encode("{}");
const PG_DSN = Deno.env.get("COMMUCAT_TEST_PG_DSN") || undefined;

/** A connected device that records what it is given (and the envelope ids of the copies). */
class FakePeer implements Peer {
  readonly received: Frame[] = [];
  /** A live copy's counter (OfflineQueue.keep), or a queued row's envelope id. */
  readonly envelopeIds: EnvelopeRef[] = [];
  accepting = true;
  constructor(readonly deviceId: string, readonly connectionId = `${deviceId}-c1`) {}
  get userId(): string {
    return `user-of-${this.deviceId}`;
  }
  deliver(frame: Frame, origin?: DeliveryOrigin): boolean {
    if (!this.accepting) return false;
    this.received.push(frame);
    if (origin?.envelopeId) this.envelopeIds.push(origin.envelopeId);
    return true;
  }
  checkOfflineQueue(): void {}
  refreshPresence(): void {}
  close(_reason: PeerCloseReason): void {}
}

interface Pair {
  world: RouterWorld;
  clock: FakeClock;
  alice: FakePeer;
  bob: FakePeer;
  /** Every store write of the offline queue, in order: rows inserted and removed. */
  writes: { inserted: string[]; removed: string[] }[];
  /** Routes one Msg from Alice to Bob; returns the sender's pending Ack. */
  send(): AckWhenDurable;
  /** Bob's rows in the store (sequences of their frames). */
  rows(): Promise<number[]>;
}

type Backend = {
  name: string;
  open?: () => Promise<{ store: () => Promise<Store>; drop(): Promise<void> }>;
};

const BACKENDS: Backend[] = [{ name: "sqlite" }];
if (PG_DSN !== undefined) {
  BACKENDS.push({
    name: "postgres",
    open: () => {
      const admin = postgres(PG_DSN, { max: 1, onnotice: () => {} });
      const schema = `commucat_test_kept_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      return Promise.resolve({
        store: async () => {
          await admin.unsafe(`CREATE SCHEMA ${schema}`);
          return await openPostgresStore(PG_DSN, { schema, migrate: true });
        },
        async drop() {
          try {
            await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          } finally {
            await admin.end();
          }
        },
      });
    },
  });
}

async function withPair(
  backend: Backend,
  test: (p: Pair) => Promise<void>,
  options: { maxCopies?: number } = {},
): Promise<void> {
  const clock = new FakeClock();
  const pg = backend.open ? await backend.open() : null;
  const world = await openRouterWorld({
    prefix: "commucat-kept-copies-",
    durableCopyDelayMs: WINDOW_MS,
    keptLimits: { maxCopies: options.maxCopies },
    clock,
    openStore: pg?.store,
  });
  const writes: Pair["writes"] = [];
  const write = world.store.writeOfflineBatch.bind(world.store);
  world.store.writeOfflineBatch = async (insert, remove) => {
    await write(insert, remove);
    writes.push({
      inserted: insert.map((e) => e.envelopeId),
      removed: remove.map((r) => r.envelopeId),
    });
  };
  const alice = new FakePeer("alice");
  const bob = new FakePeer("bob");
  world.registry.add(alice);
  world.registry.add(bob);
  let sequence = 0;
  const join = {
    type: FrameType.Join,
    channel: 1,
    sequence: ++sequence,
    payload: new TextEncoder().encode('{"members":["bob"]}'),
  };
  await replyWhenDone(world.router.route(alice, join, { members: ["bob"] }));
  // A first live-only frame makes Bob's reachability known: Msgs then route synchronously.
  const typing = { type: FrameType.Typing, channel: 1, sequence: ++sequence, payload: EMPTY };
  await replyWhenDone(world.router.route(alice, typing, {}));
  bob.received.length = 0;
  try {
    await test({
      world,
      clock,
      alice,
      bob,
      writes,
      send() {
        const frame = {
          type: FrameType.Msg,
          channel: 1,
          sequence: ++sequence,
          payload: new Uint8Array([sequence]),
        };
        const reply = world.router.route(alice, frame, undefined);
        assert.ok(reply instanceof AckWhenDurable, "a live Msg's Ack waits for its copy");
        return reply;
      },
      async rows() {
        const rows = await world.offlineQueue.load("bob", { limit: 100 });
        return rows.map((r) => decodeFrame(r.payload)!.frame.sequence);
      },
    });
  } finally {
    await world.close();
    await pg?.drop();
  }
}

/** Tracks whether `promise` has settled (and how), without awaiting it. */
function watch(promise: Promise<void>): { settled: "no" | "resolved" | "rejected" } {
  const state: { settled: "no" | "resolved" | "rejected" } = { settled: "no" };
  promise.then(() => (state.settled = "resolved"), () => (state.settled = "rejected"));
  return state;
}

/** Lets the real event loop run (store writes, the turn batch's timer). */
function realTurns(ms = 30): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

for (const backend of BACKENDS) {
  const name = (what: string) => `durable-copy window (${backend.name}): ${what}`;

  Deno.test(name("acknowledged within the window: no row ever written, sender acked"), async () => {
    await withPair(backend, async (p) => {
      const reply = p.send();
      const ack = watch(reply.durable);
      assert.equal(p.bob.received.length, 1, "delivered live at once");
      p.clock.advance(WINDOW_MS / 2);
      await realTurns();
      assert.equal(ack.settled, "no", "no Ack before the recipient acknowledged or the write");
      // Bob acknowledges inside the window: the sender's Ack goes, nothing is written.
      await p.world.offlineQueue.settle("bob", [p.bob.envelopeIds[0]]);
      await reply.durable;
      assert.equal(reply.reply?.type, FrameType.Ack);
      p.clock.advance(WINDOW_MS * 2);
      await realTurns();
      assert.deepEqual(p.writes, [], "no store write at all");
      assert.deepEqual(await p.rows(), []);
      assert.equal(p.world.offlineQueue.windowStats.acknowledgedInWindow, 1);
      assert.equal(p.world.offlineQueue.heldCopies, 0);
      assert.equal(p.clock.pending, 0, "no timer left behind");
    });
  });

  Deno.test(
    name("not acknowledged: the row is written when the window ends, then the sender is acked"),
    async () => {
      await withPair(backend, async (p) => {
        const reply = p.send();
        const order: string[] = [];
        reply.durable.then(() => order.push("sender acked"));
        const write = p.world.store.writeOfflineBatch;
        p.world.store.writeOfflineBatch = async (insert, remove) => {
          await write(insert, remove);
          order.push("row written");
        };
        p.clock.advance(WINDOW_MS - 1);
        await realTurns();
        assert.deepEqual(order, [], "inside the window: neither written nor acked");
        assert.deepEqual(await p.rows(), []);
        p.clock.advance(1);
        await reply.durable;
        assert.deepEqual(order, ["row written", "sender acked"]);
        assert.deepEqual(await p.rows(), [3]);
        // Bob's late acknowledgement removes the row.
        await p.world.offlineQueue.settle("bob", [p.bob.envelopeIds[0]]);
        assert.deepEqual(await p.rows(), []);
        assert.equal(p.world.offlineQueue.stats.kept, 1);
      });
    },
  );

  Deno.test(name("a crash inside the window leaves the sender unacked (it resends)"), async () => {
    await withPair(backend, async (p) => {
      // Three frames inside the window, none acknowledged; the server "dies" before it ends.
      const acks = [p.send(), p.send(), p.send()].map((r) => watch(r.durable));
      p.clock.advance(WINDOW_MS - 10);
      await realTurns();
      assert.deepEqual(acks.map((a) => a.settled), ["no", "no", "no"]);
      assert.deepEqual(await p.rows(), [], "nothing durable, so nothing acknowledged");
      assert.deepEqual(p.writes, []);
    });
  });

  Deno.test(
    name("the recipient's connection closes inside the window: its copies are written at once"),
    async () => {
      await withPair(backend, async (p) => {
        // Bob's session tracks what it was given, as a connection does.
        const delivery = new Delivery(
          {
            connectionId: p.bob.connectionId,
            deviceId: "bob",
            established: true,
            deliver: () => true,
            checkOfflineQueue: () => {},
          },
          {
            router: p.world.router,
            log: { warn: () => {}, error: () => {} } as never,
            outboundQueueFrames: 100,
          },
        );
        const first = p.send();
        const second = p.send();
        delivery.track(1, p.bob.received[0], p.bob.envelopeIds[0]);
        delivery.track(2, p.bob.received[1], p.bob.envelopeIds[1]);
        delivery.settle(1); // the first is acknowledged inside the window
        p.clock.advance(WINDOW_MS / 4);
        // The connection closes: the second's copy is written now, not at the window's end.
        await Promise.all(delivery.requeueUnacked());
        p.world.registry.remove(p.bob);
        await Promise.all([first.durable, second.durable]);
        assert.deepEqual(await p.rows(), [4]);
        assert.equal(p.world.offlineQueue.heldCopies, 0);
      });
    },
  );

  Deno.test(name("shutdown writes the copies still held"), async () => {
    await withPair(backend, async (p) => {
      const reply = p.send();
      await p.world.offlineQueue.flush();
      await reply.durable;
      assert.deepEqual(await p.rows(), [3]);
    });
  });

  Deno.test(
    name("over the bound of held copies the oldest is written at once, in order"),
    async () => {
      await withPair(backend, async (p) => {
        const oldest = p.send();
        const newer = p.send();
        await oldest.durable; // written without any clock movement
        assert.equal(watch(newer.durable).settled, "no");
        assert.deepEqual(await p.rows(), [3]);
        assert.equal(p.world.offlineQueue.heldCopies, 1);
        p.clock.advance(WINDOW_MS);
        await newer.durable;
        assert.deepEqual(await p.rows(), [3, 4], "rows in the order delivered");
      }, { maxCopies: 1 });
    },
  );

  Deno.test(
    name("a recipient that cannot take the frame gets its copy written at once"),
    async () => {
      await withPair(backend, async (p) => {
        p.bob.accepting = false;
        const reply = p.send();
        await reply.durable;
        assert.deepEqual(await p.rows(), [3]);
      });
    },
  );

  Deno.test(name("a failed write refuses the sender's Ack with unavailable"), async () => {
    await withPair(backend, async (p) => {
      p.world.store.writeOfflineBatch = () => Promise.reject(new Error("disk full"));
      const reply = p.send();
      p.clock.advance(WINDOW_MS);
      await assert.rejects(
        reply.durable,
        (e: unknown) => e instanceof RouteError && e.code === "unavailable",
      );
    });
  });
}

Deno.test("durable-copy window: one timer for all copies, swept at most once per tick", async () => {
  const clock = new FakeClock();
  const batches: number[] = [];
  const kept = new KeptCopies({
    delayMs: WINDOW_MS,
    clock,
    write: (copies) => {
      batches.push(copies.length);
      return Promise.resolve();
    },
  });
  const payload = new Uint8Array(10);
  const groups: Promise<void>[] = [];
  // 100 frames, one every millisecond: one timer at a time, ~10 writes, not 100.
  for (let i = 0; i < 100; i++) {
    kept.keep({
      envelopeId: `e${i}`,
      deviceId: "d",
      payload,
      keptAt: clock.now(),
      connectionId: "c",
    });
    groups.push(kept.durable()!);
    assert.ok(clock.pending <= 1, "at most one timer");
    clock.advance(1);
  }
  clock.advance(WINDOW_MS + sweepTick(WINDOW_MS));
  await Promise.all(groups);
  assert.equal(batches.reduce((a, b) => a + b, 0), 100);
  assert.ok(batches.length <= 100 / sweepTick(WINDOW_MS) + 1, `batches: ${batches}`);
  assert.equal(clock.pending, 0);
  assert.equal(kept.size, 0);
});

Deno.test("durable-copy window: a frame's Ack waits for every copy of it (group fan-out)", async () => {
  const clock = new FakeClock();
  const kept = new KeptCopies({ delayMs: WINDOW_MS, clock, write: () => Promise.resolve() });
  const payload = new Uint8Array(10);
  for (const device of ["b", "c"]) {
    kept.keep({
      envelopeId: device,
      deviceId: device,
      payload,
      keptAt: clock.now(),
      connectionId: device,
    });
  }
  const ack = watch(kept.durable()!);
  assert.equal(kept.durable(), null, "nothing kept since: nothing to wait for");
  assert.ok(kept.acknowledge("b"));
  await realTurns(1);
  assert.equal(ack.settled, "no", "one copy still unacknowledged and unwritten");
  clock.advance(WINDOW_MS);
  await realTurns(1);
  assert.equal(ack.settled, "resolved");
  assert.equal(kept.acknowledge("c"), false, "already written: the queue removes its row");
});

Deno.test("durable-copy window: a kept frame is encoded once, when first written, as encodeFrame would", () => {
  const frame = { type: FrameType.Msg, channel: 3, sequence: 300, payload: new Uint8Array(200) };
  const lazy = new LazyEncodedFrame(frame);
  const expected = encodeFrame(frame);
  assert.equal(lazy.length, expected.length, "its length is known without encoding");
  assert.deepEqual(copyBytes(lazy), expected);
  assert.equal(copyBytes(lazy), copyBytes(lazy), "the copies of one frame share one encoding");
  assert.equal(copyBytes(expected), expected);
});
