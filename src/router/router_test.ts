/**
 * The router on its own: fake peers, a recording federation relay, a real
 * SQLite store in a temporary directory, no server process.
 */
import assert from "node:assert/strict";
import { controlFrame, decodeFrame, type Frame, FrameType } from "../proto/mod.ts";
import type { Store } from "../storage/mod.ts";
import { RouteError } from "./errors.ts";
import type { OfflineQueue } from "./offline_queue.ts";
import type { DeliveryOrigin, Peer, PeerCloseReason } from "./peer.ts";
import type { PeerRegistry } from "./registry.ts";
import { AckWhenDurable, type RemoteRelay, replyWhenDone, type Router } from "./router.ts";
import { openRouterWorld } from "./testing.ts";

/** A connected device that records what it is given. */
class FakePeer implements Peer {
  readonly received: Frame[] = [];
  readonly origins: (DeliveryOrigin | undefined)[] = [];
  readonly closed: PeerCloseReason[] = [];
  queueChecks = 0;
  accepting = true;
  constructor(
    readonly deviceId: string,
    readonly userId: string,
    readonly connectionId = deviceId,
  ) {}
  deliver(frame: Frame, origin?: DeliveryOrigin): boolean {
    if (this.accepting) {
      this.received.push(frame);
      this.origins.push(origin);
    }
    return this.accepting;
  }
  checkOfflineQueue(): void {
    this.queueChecks++;
  }
  refreshPresence(): void {}
  close(reason: PeerCloseReason): void {
    this.closed.push(reason);
  }
}

interface Harness {
  router: Router;
  registry: PeerRegistry;
  store: Store;
  queue: OfflineQueue;
  /** Devices the access policy refuses from now on. */
  unreachable: Set<string>;
  /** What went to federation: [from, members, frame type]. */
  relayed: [string, string[], number][];
  connect(deviceId: string, userId?: string): FakePeer;
  queued(deviceId: string): Promise<number[]>;
}

async function withRouter(test: (h: Harness) => Promise<void>): Promise<void> {
  const relayed: [string, string[], number][] = [];
  const unreachable = new Set<string>();
  const remote: RemoteRelay = {
    isRemote: (member) => member.includes("@") && !member.endsWith("@a.example"),
    relay: (from, members, frame) => {
      relayed.push([from, members, frame.type]);
      return Promise.resolve();
    },
  };
  const world = await openRouterWorld({
    prefix: "commucat-router-unit-",
    // Everyone may reach everyone but `unreachable`: these tests are about routing.
    access: { mayReach: (_sender, target) => Promise.resolve(!unreachable.has(target)) },
    remote,
  });
  const { router, registry, store, offlineQueue: queue } = world;
  const harness: Harness = {
    router,
    registry,
    store,
    queue,
    relayed,
    unreachable,
    connect(deviceId, userId = `user-of-${deviceId}`) {
      const peer = new FakePeer(deviceId, userId);
      registry.add(peer);
      return peer;
    },
    async queued(deviceId) {
      const rows = await queue.load(deviceId, { limit: 100 });
      return rows.map((r) => decodeFrame(r.payload)!.frame.type);
    },
  };
  try {
    await test(harness);
  } finally {
    await world.close();
  }
}

const done = replyWhenDone;

let sequence = 0;
function msg(channel: number): Frame {
  return { channel, sequence: ++sequence, type: FrameType.Msg, payload: new Uint8Array([1, 2]) };
}
function control(type: FrameType, channel: number, body: unknown): [Frame, unknown] {
  return [controlFrame(type, channel, ++sequence, body), body];
}

/** `sender` joins `channel` with `members` (the route is made). */
async function join(h: Harness, sender: FakePeer, channel: number, members: string[]) {
  const [frame, body] = control(FrameType.Join, channel, { members });
  await done(h.router.route(sender, frame, body));
}

/** A Typing from `sender` on `channel`: its routing reads the members' reachability, then cached. */
async function warm(h: Harness, sender: FakePeer, channel: number) {
  const [frame, body] = control(FrameType.Typing, channel, {});
  await done(h.router.route(sender, frame, body));
}

Deno.test("router: a live-only broadcast on a cached route to connected members completes synchronously", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    const bob = h.connect("bob");
    await join(h, alice, 1, ["bob"]);
    const [typing, typingBody] = control(FrameType.Typing, 1, {});
    // The first frame checks that Bob is still reachable (a store read); then it is known.
    await done(h.router.route(alice, typing, typingBody));
    bob.received.length = 0;
    const reply = h.router.route(alice, typing, typingBody);
    assert.ok(!(reply instanceof Promise) && !(reply instanceof AckWhenDurable), "nothing to wait");
    assert.equal((reply as Frame).type, FrameType.Ack);
    assert.deepEqual(bob.received, [typing]);
    assert.equal(alice.received.length, 0, "the sender does not get its own frame");
    // Deferred plain Ack (cumulative mode): no reply at all.
    assert.equal(h.router.route(alice, typing, typingBody, { deferPlainAck: true }), null);
  });
});

Deno.test("router: a live Msg is acknowledged once its copy is durable, which the recipient's ack removes", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    const bob = h.connect("bob");
    await join(h, alice, 1, ["bob"]);
    await warm(h, alice, 1); // Bob's reachability is now known
    bob.received.length = 0;
    bob.origins.length = 0;
    const frame = msg(1);
    const reply = h.router.route(alice, frame, undefined);
    // Routed at once (the session goes on), only the Ack waits for the write.
    assert.ok(reply instanceof AckWhenDurable, "the Ack waits for the write");
    assert.deepEqual(bob.received, [frame], "delivered live at once");
    assert.deepEqual(await h.queued("bob"), [], "not written within the turn");
    await reply.durable;
    assert.equal(reply.reply?.type, FrameType.Ack);
    const rows = await h.queue.load("bob", { limit: 10 });
    assert.deepEqual(rows.map((r) => decodeFrame(r.payload)!.frame.type), [FrameType.Msg]);
    // The recipient acknowledges it: the copy goes.
    await h.queue.settle("bob", [bob.origins[0]!.envelopeId!]);
    assert.deepEqual(await h.queued("bob"), []);
    // Acknowledged before its batch was written: never written at all.
    const second = h.router.route(alice, msg(1), undefined) as AckWhenDurable;
    await h.queue.settle("bob", [bob.origins[1]!.envelopeId!]);
    await second.durable;
    assert.deepEqual(await h.queued("bob"), []);
    assert.equal(h.queue.stats.kept, 1);
  });
});

Deno.test("router: a kept copy and a later offline enqueue land in the queue in order", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    const bob = h.connect("bob");
    await join(h, alice, 1, ["bob"]);
    // Bob cannot take the first (it is kept, written after this turn), then leaves:
    // the second goes straight to the queue, and must not overtake the first.
    bob.accepting = false;
    const first = msg(1);
    const pending = h.router.route(alice, first, undefined);
    h.registry.remove(bob);
    const second = msg(1);
    await done(h.router.route(alice, second, undefined));
    await done(pending);
    const rows = await h.queue.load("bob", { limit: 10 });
    assert.deepEqual(
      rows.map((r) => decodeFrame(r.payload)!.frame.sequence),
      [first.sequence, second.sequence],
    );
  });
});

Deno.test("router: a failed durable write refuses the sender's Ack with unavailable", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    h.connect("bob");
    await join(h, alice, 1, ["bob"]);
    await warm(h, alice, 1); // Bob's reachability is now known
    const original = h.store.writeOfflineBatch.bind(h.store);
    h.store.writeOfflineBatch = () => Promise.reject(new Error("disk full"));
    try {
      await assert.rejects(
        (h.router.route(alice, msg(1), undefined) as AckWhenDurable).durable,
        (e: unknown) => e instanceof RouteError && e.code === "unavailable",
      );
    } finally {
      h.store.writeOfflineBatch = original;
    }
    assert.equal(h.queue.stats.keepFailures, 1);
  });
});

Deno.test("router: queued types wait in the offline queue, live-only types are dropped", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    await join(h, alice, 2, ["carol"]);
    await done(h.router.route(alice, msg(2), undefined));
    const [typing, typingBody] = control(FrameType.Typing, 2, {});
    await done(h.router.route(alice, typing, typingBody));
    assert.deepEqual(await h.queued("carol"), [FrameType.Msg]);
    assert.equal(h.queue.stats.enqueued, 1);
    // A full peer is treated as absent: the frame goes to its queue.
    const carol = h.connect("carol");
    carol.accepting = false;
    await done(h.router.route(alice, msg(2), undefined));
    assert.deepEqual(await h.queued("carol"), [FrameType.Msg, FrameType.Msg]);
    assert.ok(carol.queueChecks >= 1, "a connected device is told to look at its queue");
  });
});

Deno.test("router: a frame only stored (member offline or on another instance) does not hold the sender's next frames", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    await join(h, alice, 5, ["dave"]);
    await warm(h, alice, 5); // Dave's reachability is now known
    // Routed at once: only the Ack waits for the row (AckWhenDurable), so the
    // session routes the next frames meanwhile and they share the write.
    const first = msg(5);
    const second = msg(5);
    const replies = [first, second].map((m) => h.router.route(alice, m, undefined));
    for (const reply of replies) assert.ok(reply instanceof AckWhenDurable);
    await Promise.all(replies.map(done));
    const rows = await h.queue.load("dave", { limit: 10 });
    assert.deepEqual(
      rows.map((r) => decodeFrame(r.payload)!.frame.sequence),
      [first.sequence, second.sequence],
      "stored in the order routed",
    );
  });
});

Deno.test("router: only members send on a route; Leave removes only the sender", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    const mallory = h.connect("mallory");
    await assert.rejects(
      Promise.resolve().then(() => h.router.route(alice, msg(3), undefined)),
      (e: unknown) => e instanceof RouteError && e.code === "no_route",
    );
    await join(h, alice, 3, ["bob"]);
    await assert.rejects(
      Promise.resolve().then(() => h.router.route(mallory, msg(3), undefined)),
      (e: unknown) => e instanceof RouteError && e.code === "not_member",
    );
    const [leave] = control(FrameType.Leave, 3, {});
    await done(h.router.route(alice, leave, {}));
    assert.deepEqual((await h.store.getRoute(3))?.members, ["bob"]);
  });
});

Deno.test("router: a handler registered for a frame type replaces the built-in one; unknown types are refused", async () => {
  await withRouter((h) => {
    const alice = h.connect("alice");
    const seen: number[] = [];
    h.router.handle(FrameType.CallStats, ({ frame }) => {
      seen.push(frame.channel);
      return null;
    });
    const [stats, body] = control(FrameType.CallStats, 9, { call_id: "c" });
    assert.equal(h.router.route(alice, stats, body), null);
    assert.deepEqual(seen, [9]);
    const [ack] = control(FrameType.Ack, 9, { ack: 1 });
    assert.throws(
      () => h.router.route(alice, ack, {}),
      (e: unknown) => e instanceof RouteError && e.code === "unsupported",
    );
    return Promise.resolve();
  });
});

Deno.test("router: deliverTo reaches one local device, live or queued, never federation", async () => {
  await withRouter(async (h) => {
    const [update] = control(FrameType.KeyUpdate, 0, { device_id: "x" });
    await h.router.deliverTo("dave", update);
    assert.deepEqual(await h.queued("dave"), [FrameType.KeyUpdate]);
    const erin = h.connect("erin");
    await h.router.deliverTo("erin", update);
    assert.deepEqual(erin.received, [update]);
    // A server-originated frame addresses a device of this server, whatever its id looks like.
    await h.router.deliverTo("odd@b.example", update);
    assert.deepEqual(h.relayed, []);
    assert.deepEqual(await h.queued("odd@b.example"), [FrameType.KeyUpdate]);
  });
});

Deno.test("router: a local device with a remote-looking id cannot act as a remote member (#19 §2)", async () => {
  await withRouter(async (h) => {
    // The victim's channel with a real member on b.example.
    const victim = h.connect("victim", "u-victim");
    await join(h, victim, 7, ["bob1@b.example"]);
    await done(h.router.route(victim, msg(7), undefined));
    assert.deepEqual(h.relayed, [["victim", ["bob1@b.example"], FrameType.Msg]]);

    // A device connected here whose id has the remote member's form.
    const spoof = h.connect("bob1@b.example", "u-mallory");
    h.connect("mallory2", "u-mallory");
    const forbidden = (e: unknown) => e instanceof RouteError && e.code === "forbidden";
    // Its Msg does not reach the victim …
    await assert.rejects(
      Promise.resolve().then(() => h.router.route(spoof, msg(7), undefined)),
      forbidden,
    );
    assert.equal(victim.received.length, 0);
    // … it cannot Join its second device into the victim's channel …
    const [join2, body2] = control(FrameType.Join, 7, { members: ["mallory2"] });
    await assert.rejects(
      Promise.resolve().then(() => h.router.route(spoof, join2, body2)),
      forbidden,
    );
    // … and its Leave does not remove the real remote member.
    const [leave] = control(FrameType.Leave, 7, {});
    await assert.rejects(Promise.resolve().then(() => h.router.route(spoof, leave, {})), forbidden);
    assert.deepEqual((await h.store.getRoute(7))?.members, ["victim", "bob1@b.example"]);
    // The victim's messages still go to the real member, not to the local look-alike.
    await done(h.router.route(victim, msg(7), undefined));
    assert.equal(spoof.received.length, 0);
    assert.equal(h.relayed.length, 2);
  });
});

Deno.test("router: a route not bound to a group delivers only to members still reachable (#19 §4)", async () => {
  await withRouter(async (h) => {
    const alice = h.connect("alice");
    const bob = h.connect("bob");
    await join(h, alice, 4, ["bob"]);
    await done(h.router.route(alice, msg(4), undefined));
    assert.equal(bob.received.length, 1);
    // The friendship ends: once the router is told, Bob gets nothing more on the route.
    h.unreachable.add("bob");
    h.router.forgetReachability();
    await done(h.router.route(alice, msg(4), undefined));
    assert.equal(bob.received.length, 1);
    assert.deepEqual((await h.store.getRoute(4))?.members, ["alice", "bob"], "route unchanged");
    // A new friendship counts at once (refusals are never kept).
    h.unreachable.delete("bob");
    await done(h.router.route(alice, msg(4), undefined));
    assert.equal(bob.received.length, 2);
  });
});
