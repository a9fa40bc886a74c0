/**
 * The durable-copy window across instances: two offline queues sharing one
 * store and presence, joined by an in-process bus and the server's bus
 * handler. A frame for a device on the other instance is carried without a
 * row; the row is written only when the copy is not acknowledged in time.
 */
import assert from "node:assert/strict";
import { FrameType } from "../proto/mod.ts";
import { busMessageHandler } from "../server/bus_handler.ts";
import { silentLogger } from "../log/mod.ts";
import type { Bus, BusMessage } from "./bus.ts";
import { decodeHeldCopies, encodeHeldCopies } from "./bus_binary.ts";
import { OfflineQueue } from "./offline_queue.ts";
import type { Peer } from "./peer.ts";
import { PeerRegistry } from "./registry.ts";
import type { Router } from "./router.ts";
import { FakeClock, openRouterWorld, type RouterWorld } from "./testing.ts";

const WINDOW_MS = 200;

/** Instances in one process: `send` hands the message over in a later microtask. */
class InProcessBus implements Bus {
  readonly healthy = true;
  readonly #handlers = new Map<string, (message: BusMessage) => void>();
  send(instance: string, message: BusMessage): Promise<void> {
    // Through the bytes or the JSON, as over Redis.
    const copy = message.kind === "held-copies"
      ? decodeHeldCopies(encodeHeldCopies(message))!
      : JSON.parse(JSON.stringify(message)) as BusMessage;
    return Promise.resolve().then(() => this.#handlers.get(instance)?.(copy));
  }
  broadcast(message: BusMessage): Promise<void> {
    return Promise.all([...this.#handlers.keys()].map((i) => this.send(i, message))).then(() => {});
  }
  subscribe(instance: string, handler: (message: BusMessage) => void): Promise<void> {
    this.#handlers.set(instance, handler);
    return Promise.resolve();
  }
  ping(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The device on instance B: takes carried copies while `accept`. */
class HolderPeer {
  readonly deviceId = "d";
  readonly userId = "u";
  readonly connectionId = "c";
  accept = true;
  taken: string[] = [];
  looks = 0;
  deliver(): boolean {
    return true;
  }
  takeQueued(envelopeId: string): boolean {
    if (!this.accept) {
      this.looks++;
      return false;
    }
    this.taken.push(envelopeId);
    return true;
  }
  checkOfflineQueue(): void {
    this.looks++;
  }
  refreshPresence(): void {}
  close(): void {}
}

interface Two {
  world: RouterWorld;
  clock: FakeClock;
  a: OfflineQueue;
  b: OfflineQueue;
  peer: HolderPeer;
  /** Rows of device `d` in the store now. */
  rows(): Promise<string[]>;
}

async function withTwo(test: (t: Two) => Promise<void>): Promise<void> {
  const world = await openRouterWorld({ prefix: "commucat-remote-copies-" });
  const clock = new FakeClock(Date.now());
  const bus = new InProcessBus();
  const queue = (instanceId: string, registry: PeerRegistry) =>
    new OfflineQueue({
      store: world.store,
      registry,
      presence: world.presence,
      bus,
      instanceId,
      ttlSeconds: 60,
      newId: (c) => `${c}:${crypto.randomUUID()}`,
      durableCopyDelayMs: WINDOW_MS,
      crossInstanceWindow: true,
      clock,
    });
  const registryA = new PeerRegistry();
  const registryB = new PeerRegistry();
  const peer = new HolderPeer();
  registryB.add(peer as unknown as Peer);
  const a = queue("a", registryA);
  const b = queue("b", registryB);
  for (
    const [instanceId, registry, offlineQueue] of [["a", registryA, a], [
      "b",
      registryB,
      b,
    ]] as const
  ) {
    const router = { offlineQueue, stats: { busCarriedDelivered: 0, busQueueReads: 0 } };
    await bus.subscribe(
      instanceId,
      busMessageHandler({
        instanceId,
        registry,
        router: router as unknown as Router,
        log: silentLogger,
      }),
    );
  }
  await world.presence.set("d", "online", "b", 60);
  const rows = async () =>
    (await world.store.loadOfflineQueue("d", { limit: 10, now: new Date(clock.now()) }))
      .map((r) => r.envelopeId);
  try {
    await test({ world, clock, a, b, peer, rows });
  } finally {
    await a.flush();
    await b.flush();
    await world.close();
  }
}

const msg = {
  type: FrameType.Msg,
  channel: 7,
  sequence: 1,
  payload: new TextEncoder().encode("m"),
};

/** Waits (turns of the event loop, no time limit of its own) until `done()`. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 1));
}

Deno.test("remote copies: acknowledged within the window, a cross-instance frame is never written", async () => {
  await withTwo(async ({ a, b, peer, rows }) => {
    let acked = false;
    const sent = a.enqueue(["d"], msg, "alice").then(() => (acked = true));
    await until(() => peer.taken.length === 1);
    assert.deepEqual(await rows(), []); // carried, no row
    assert.equal(acked, false); // the sender's Ack waits for the device
    await b.settle("d", peer.taken);
    await sent;
    assert.deepEqual(await rows(), []);
    assert.equal(a.windowStats.acknowledgedInWindow, 1);
    assert.deepEqual(a.carried.stats, { sent: 1, taken: 0, stored: 0, messages: 1 });
    assert.deepEqual(b.carried.stats, { sent: 0, taken: 1, stored: 0, messages: 1 }); // the acked answer
  });
});

Deno.test("remote copies: a holder that cannot deliver now stores the frame; the origin drops its copy", async () => {
  await withTwo(async ({ a, b, peer, rows }) => {
    peer.accept = false;
    await a.enqueue(["d"], msg, "alice");
    const stored = await rows();
    assert.equal(stored.length, 1); // B's own row, read through the queue
    assert.equal(b.carried.stats.stored, 1);
    assert.equal(a.windowStats.acknowledgedInWindow, 1);
    assert.ok(peer.looks >= 1);
  });
});

Deno.test("remote copies: a connection that ends unacknowledged has the origin write the copy at once", async () => {
  await withTwo(async ({ a, b, peer, rows }) => {
    const sent = a.enqueue(["d"], msg, "alice");
    await until(() => peer.taken.length === 1);
    b.releaseKept(peer.taken);
    await sent;
    assert.deepEqual(await rows(), peer.taken); // the carried copy, under its envelope id
    assert.equal(a.windowStats.acknowledgedInWindow, 0);
  });
});

Deno.test("remote copies: written when the window ends first; the late acknowledgement removes the row", async () => {
  await withTwo(async ({ a, b, clock, peer, rows }) => {
    const sent = a.enqueue(["d"], msg, "alice");
    await until(() => peer.taken.length === 1);
    clock.advance(WINDOW_MS + 50);
    await sent;
    assert.deepEqual(await rows(), peer.taken);
    await b.settle("d", peer.taken);
    await until(() => a.windowStats.released === 1); // the copy went to the write, not the ack
    let left = await rows();
    for (let turn = 0; turn < 100 && left.length > 0; turn++) {
      await new Promise((r) => setTimeout(r, 1)); // the bus message comes back to A
      await a.flush();
      left = await rows();
    }
    assert.deepEqual(left, []);
  });
});
