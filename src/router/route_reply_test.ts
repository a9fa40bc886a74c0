/**
 * A frame whose routing has to read something first (reachability on a new
 * route, an uncached route, a group's creation) answers once it is routed,
 * and its live copies' durability is left to the Ack ({@link AckWhenDurable}):
 * a session waits for that promise before its next frames, its own delivery
 * Acks among them, so a promise that waited for the recipient's Ack stalled
 * two members whose first messages crossed until the durable-copy sweep
 * wrote both copies (issue 18).
 *
 * The window's clock is a {@link FakeClock} that never moves here: the
 * sweep cannot run, so every settlement below comes from an Ack.
 */
import assert from "node:assert/strict";
import { controlFrame, type Frame, FrameType } from "../proto/mod.ts";
import { RouteError } from "./errors.ts";
import type { DeliveryOrigin, Peer } from "./peer.ts";
import { AckWhenDurable, type RouteReply } from "./router.ts";
import { FakeClock, openRouterWorld, type RouterWorld } from "./testing.ts";
import type { AccessPolicy } from "./access.ts";

/** A connected device that records the kept copies' names of what it is given. */
class RecordingPeer implements Peer {
  readonly refs: (string | number)[] = [];
  constructor(readonly deviceId: string, readonly userId = `user-of-${deviceId}`) {}
  get connectionId(): string {
    return `c-${this.deviceId}`;
  }
  deliver(_frame: Frame, origin?: DeliveryOrigin): boolean {
    if (origin?.envelopeId !== undefined) this.refs.push(origin.envelopeId);
    return true;
  }
  checkOfflineQueue(): void {}
  refreshPresence(): void {}
  close(): void {}
}

async function withWorld(
  test: (w: RouterWorld, clock: FakeClock) => Promise<void>,
  access?: AccessPolicy,
): Promise<void> {
  const clock = new FakeClock();
  const world = await openRouterWorld({
    prefix: "commucat-route-reply-",
    durableCopyDelayMs: 200,
    clock,
    access,
  });
  try {
    await test(world, clock);
  } finally {
    await world.close();
  }
}

let sequence = 0;
function msg(channel: number): Frame {
  return { channel, sequence: ++sequence, type: FrameType.Msg, payload: new Uint8Array([7]) };
}
function control(type: FrameType, channel: number, body: unknown): [Frame, unknown] {
  return [controlFrame(type, channel, ++sequence, body), body];
}

/** The answer of a routed frame as a session takes it: a promise first settles once routed. */
async function routed(reply: RouteReply): Promise<AckWhenDurable> {
  const answer = await reply;
  assert.ok(answer instanceof AckWhenDurable, "only the Ack waits for the live copy");
  return answer;
}

/** Settles when `p` has, false while it has not (after the pending microtasks ran). */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  await new Promise((r) => setTimeout(r, 0));
  return settled;
}

Deno.test("route reply: the first frame on a route (reachability read) is routed before its copy is acknowledged", async () => {
  await withWorld(async (w) => {
    const alice = new RecordingPeer("alice");
    const bob = new RecordingPeer("bob");
    w.registry.add(alice);
    w.registry.add(bob);
    const [join, body] = control(FrameType.Join, 1, { members: ["bob"] });
    await w.router.route(alice, join, body);
    const reply = w.router.route(alice, msg(1), undefined);
    assert.ok(reply instanceof Promise, "reachability is read first");
    const answer = await routed(reply);
    assert.equal(w.offlineQueue.heldCopies, 1, "the copy is still held: nobody acknowledged it");
    assert.equal(await isSettled(answer.durable), false, "the Ack waits for it");
    w.offlineQueue.settle("bob", bob.refs);
    await answer.durable;
    assert.equal(answer.reply?.type, FrameType.Ack);
    assert.deepEqual(w.offlineQueue.windowStats, { acknowledgedInWindow: 1, released: 0 });
  });
});

Deno.test("route reply: two members whose first frames cross are both routed, and each Ack comes from the other's acknowledgement", async () => {
  await withWorld(async (w) => {
    const alice = new RecordingPeer("alice");
    const bob = new RecordingPeer("bob");
    w.registry.add(alice);
    w.registry.add(bob);
    const [join, body] = control(FrameType.Join, 2, { members: ["bob"] });
    await w.router.route(alice, join, body);
    // Both first frames routed before either side acknowledged anything:
    // a session waiting on one of these promises can read its device's Ack next.
    const [fromAlice, fromBob] = await Promise.all([
      routed(w.router.route(alice, msg(2), undefined)),
      routed(w.router.route(bob, msg(2), undefined)),
    ]);
    assert.equal(w.offlineQueue.heldCopies, 2);
    // Each device's delivery Ack releases the other's Ack; the sweep never ran.
    w.offlineQueue.settle("alice", alice.refs);
    await fromBob.durable;
    assert.equal(await isSettled(fromAlice.durable), false, "Bob has not acknowledged yet");
    w.offlineQueue.settle("bob", bob.refs);
    await fromAlice.durable;
    assert.deepEqual(w.offlineQueue.windowStats, { acknowledgedInWindow: 2, released: 0 });
  });
});

Deno.test("route reply: a frame on a route not cached (read from the store) leaves its copy to the Ack", async () => {
  await withWorld(async (w) => {
    const alice = new RecordingPeer("alice");
    const bob = new RecordingPeer("bob");
    w.registry.add(alice);
    w.registry.add(bob);
    const [join, body] = control(FrameType.Join, 3, { members: ["bob"] });
    await w.router.route(alice, join, body);
    await (await routed(w.router.route(alice, msg(3), undefined))).reply; // reachability known
    w.offlineQueue.settle("bob", bob.refs.splice(0));
    w.router.invalidateRoute(3);
    const reply = w.router.route(alice, msg(3), undefined);
    assert.ok(reply instanceof Promise, "the route is read first");
    const answer = await routed(reply);
    assert.equal(await isSettled(answer.durable), false);
    w.offlineQueue.settle("bob", bob.refs);
    await answer.durable;
    assert.deepEqual(w.offlineQueue.windowStats, { acknowledgedInWindow: 2, released: 0 });
  });
});

Deno.test("route reply: GroupCreate answers with its group once routed; its Ack waits for the live copy", async () => {
  await withWorld(async (w) => {
    const alice = new RecordingPeer("alice");
    const bob = new RecordingPeer("bob");
    w.registry.add(alice);
    w.registry.add(bob);
    const now = new Date();
    for (const peer of [alice, bob]) {
      const { deviceId, userId } = peer;
      await w.store.createUser({
        userId,
        handle: userId,
        displayName: null,
        avatarUrl: null,
        domain: "a.example",
        createdAt: now,
        updatedAt: now,
      });
      await w.store.insertDevice({
        deviceId,
        userId,
        publicKey: new Uint8Array(32).fill(deviceId.length),
        status: "active",
        createdAt: now,
      });
    }
    const [create, body] = control(FrameType.GroupCreate, 4, { group_id: "g1", members: ["bob"] });
    const answer = await routed(w.router.route(alice, create, body));
    assert.equal(await isSettled(answer.durable), false);
    w.offlineQueue.settle("bob", bob.refs);
    await answer.durable;
    const ack = JSON.parse(new TextDecoder().decode(answer.reply!.payload));
    assert.deepEqual(ack, { ack: create.sequence, group_id: "g1" });
  });
});

Deno.test("route reply: a failed reachability read refuses the frame (unavailable), no copy kept", async () => {
  await withWorld(
    async (w) => {
      const alice = new RecordingPeer("alice");
      w.registry.add(alice);
      w.registry.add(new RecordingPeer("bob"));
      const [join, body] = control(FrameType.Join, 5, { members: [] });
      await w.router.route(alice, join, body);
      await w.store.putRoute({ channel: 5, members: ["alice", "bob"], groupId: null });
      w.router.invalidateRoute(5);
      await assert.rejects(
        Promise.resolve(w.router.route(alice, msg(5), undefined)),
        (e: unknown) => e instanceof RouteError && e.code === "unavailable",
      );
      assert.equal(w.offlineQueue.heldCopies, 0);
    },
    {
      mayReach: (_sender, target) =>
        target === "bob" ? Promise.reject(new Error("store down")) : Promise.resolve(true),
    },
  );
});
