/**
 * The offline queue's enqueue batching: frames enqueued while the store is
 * busy share one write, stay in call order, and fail together.
 */
import assert from "node:assert/strict";
import { decodeFrame, FrameType } from "../proto/mod.ts";
import type { OfflineEnvelope } from "../storage/mod.ts";
import { OfflineQueue, type OfflineQueueStore } from "./offline_queue.ts";
import { RouteError } from "./errors.ts";
import { openRouterWorld } from "./testing.ts";

/** The world's store, counting batch writes (rows inserted); `fail` makes the next ones throw. */
function countingStore(store: OfflineQueueStore) {
  const writes: number[] = [];
  const wrapped = {
    writes,
    fail: false,
    store: new Proxy(store, {
      get(target, key) {
        if (key === "writeOfflineBatch") {
          return (
            envelopes: OfflineEnvelope[],
            remove: { deviceId: string; envelopeId: string }[],
          ) => {
            writes.push(envelopes.length);
            if (wrapped.fail) return Promise.reject(new Error("store down"));
            return target.writeOfflineBatch(envelopes, remove);
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }),
  };
  return wrapped;
}

const msg = (n: number) => ({
  type: FrameType.Msg,
  channel: 7,
  sequence: n,
  payload: new TextEncoder().encode(`m${n}`),
});

type RouterWorld = Awaited<ReturnType<typeof openRouterWorld>>;
type QueueOptions = ConstructorParameters<typeof OfflineQueue>[0];

/** An offline queue on the world's store, registry, presence and bus; `options` replaces any. */
function worldQueue(world: RouterWorld, options: Partial<QueueOptions> = {}): OfflineQueue {
  return new OfflineQueue({
    store: world.store,
    registry: world.registry,
    presence: world.presence,
    bus: world.bus,
    instanceId: "i1",
    ttlSeconds: 60,
    newId: (c) => `${c}:${crypto.randomUUID()}`,
    ...options,
  });
}

/** Quotas high enough never to refuse: the tests watch how the usage figures are read. */
const ROOMY_QUOTA = {
  recipientFrames: 100,
  recipientBytes: 1 << 20,
  senderFrames: 100,
  senderBytes: 1 << 20,
};

/** The world's store with its quota-usage read wrapped by `read` (which may call the real one). */
function usageReadBy(
  store: RouterWorld["store"],
  read: (
    real: RouterWorld["store"]["offlineQueueUsage"],
    ...args: Parameters<RouterWorld["store"]["offlineQueueUsage"]>
  ) => ReturnType<RouterWorld["store"]["offlineQueueUsage"]>,
): RouterWorld["store"] {
  return new Proxy(store, {
    get(target, key) {
      if (key === "offlineQueueUsage") {
        return (...args: Parameters<typeof target.offlineQueueUsage>) =>
          read(target.offlineQueueUsage.bind(target), ...args);
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("offline queue: frames enqueued while a write is in line share one write, in order", async () => {
  const world = await openRouterWorld({ prefix: "commucat-enqueue-batch-" });
  try {
    const counting = countingStore(world.store);
    const queue = worldQueue(world, { store: counting.store });
    // Three senders' frames in one turn: one write of three rows.
    await Promise.all([1, 2, 3].map((n) => queue.enqueue([`dev-${n % 2}`], msg(n))));
    assert.deepEqual(counting.writes, [3]);
    // One frame alone is one write of one row; a later turn starts a new batch.
    await queue.enqueue(["dev-0"], msg(4));
    assert.deepEqual(counting.writes, [3, 1]);
    const sequences = (await queue.load("dev-0", { limit: 10 })).map((e) =>
      decodeFrame(e.payload)!.frame.sequence
    );
    assert.deepEqual(sequences, [2, 4], "dev-0's frames in call order");
    assert.equal(queue.stats.enqueued, 4);

    // A failed batch rejects every frame in it (none stored), and the next batch works.
    counting.fail = true;
    const failed = await Promise.allSettled([5, 6].map((n) => queue.enqueue(["dev-1"], msg(n))));
    for (const outcome of failed) {
      assert.equal(outcome.status, "rejected");
      assert.ok((outcome as PromiseRejectedResult).reason instanceof RouteError);
      assert.equal((outcome as PromiseRejectedResult).reason.code, "unavailable");
    }
    counting.fail = false;
    await queue.enqueue(["dev-1"], msg(7));
    assert.deepEqual(counting.writes, [3, 1, 2, 1]);
    const dev1 = (await queue.load("dev-1", { limit: 10 })).map((e) =>
      decodeFrame(e.payload)!.frame.sequence
    );
    assert.deepEqual(dev1, [1, 3, 7]);
    await queue.flush();
  } finally {
    await world.close();
  }
});

Deno.test("offline queue: a quota check that reads the store does not let a later frame be stored first", async () => {
  const world = await openRouterWorld({ prefix: "commucat-enqueue-order-" });
  try {
    let reads = 0;
    // The first count is slow, the next one quick: answered out of order.
    const store = usageReadBy(world.store, async (real, ...args) => {
      const delay = reads++ === 0 ? 30 : 0;
      await new Promise((resolve) => setTimeout(resolve, delay));
      return await real(...args);
    });
    const queue = worldQueue(world, { store, quota: ROOMY_QUOTA });
    // Different senders: each enqueue misses the usage cache and reads the store.
    await Promise.all([
      queue.enqueue(["dev-q"], msg(1), "user-a"),
      queue.enqueue(["dev-q"], msg(2), "user-b"),
    ]);
    assert.equal(reads, 2);
    const sequences = (await queue.load("dev-q", { limit: 10 })).map((e) =>
      decodeFrame(e.payload)!.frame.sequence
    );
    assert.deepEqual(sequences, [1, 2]);
  } finally {
    await world.close();
  }
});

Deno.test("offline queue: quota figures asked for while a read is out share the next read, order kept", async () => {
  const world = await openRouterWorld({ prefix: "commucat-quota-batch-" });
  try {
    const reads: { devices: string[]; sender: string }[] = [];
    let failNext = false;
    const store = usageReadBy(world.store, async (real, ...args) => {
      reads.push({ devices: [...args[0]], sender: args[1] });
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (failNext) throw new Error("store down");
      return await real(...args);
    });
    const queue = worldQueue(world, { store, quota: ROOMY_QUOTA });
    // Frames of one turn share one read. The first frame's read starts at
    // once; the four sent in a later turn, while it is out, share the next.
    const first = queue.enqueue(["dev-1", "dev-all"], msg(1), "user-1");
    await new Promise((resolve) => setTimeout(resolve, 1));
    await Promise.all([
      first,
      ...[2, 3, 4, 5].map((n) => queue.enqueue([`dev-${n}`, "dev-all"], msg(n), `user-${n}`)),
    ]);
    const recipientReads = reads.filter((r) => r.devices.length > 0);
    assert.equal(recipientReads.length, 2, "recipients: one query per round");
    assert.deepEqual(recipientReads[0].devices, ["dev-1", "dev-all"]);
    assert.deepEqual(recipientReads[1].devices.sort(), ["dev-2", "dev-3", "dev-4", "dev-5"]);
    assert.equal(new Set(reads.map((r) => r.sender)).size, 5, "each sender read once");
    const stored = (await queue.load("dev-all", { limit: 10 })).map((e) =>
      decodeFrame(e.payload)!.frame.sequence
    );
    assert.deepEqual(stored, [1, 2, 3, 4, 5], "stored in call order");

    // A failed read rejects the frames that needed it as unavailable; nothing is stored for them.
    failNext = true;
    const outcome = await queue.enqueue(["dev-new"], msg(6), "user-new").then(() => null, (e) => e);
    assert.ok(outcome instanceof RouteError);
    assert.equal(outcome.code, "unavailable");
    failNext = false;
    assert.deepEqual(await queue.load("dev-new", { limit: 10 }), []);
    await queue.enqueue(["dev-new"], msg(7), "user-new");
    assert.equal((await queue.load("dev-new", { limit: 10 })).length, 1);
  } finally {
    await world.close();
  }
});

Deno.test("offline queue: rows for a device on an instance that died stay for the next queue read", async () => {
  const world = await openRouterWorld({ prefix: "commucat-dead-holder-" });
  try {
    const sent: string[] = [];
    const bus = Object.assign(Object.create(world.bus), {
      send: (instance: string) => {
        sent.push(instance); // published to a channel nobody reads any more
        return Promise.resolve();
      },
    });
    await world.presence.set("dev-x", "online", "inst-dead", 60);
    const queue = worldQueue(world, { bus });
    await Promise.all([1, 2].map((n) => queue.enqueue(["dev-x"], msg(n))));
    assert.deepEqual(sent, ["inst-dead"], "one notice for the batch");
    // The device reconnects (here or elsewhere): its drain reads both rows, in order.
    const rows = (await queue.load("dev-x", { limit: 10 })).map((e) =>
      decodeFrame(e.payload)!.frame.sequence
    );
    assert.deepEqual(rows, [1, 2]);
  } finally {
    await world.close();
  }
});
