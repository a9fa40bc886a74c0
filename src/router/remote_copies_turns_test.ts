/**
 * RemoteCopies' own traffic to Redis: presence reads (one per device at a
 * time, read again ahead of expiry) and held-copies messages (at most one on
 * its way to each instance; what comes meanwhile goes in the next).
 */
import assert from "node:assert/strict";
import type { Bus, BusMessage, HeldCopiesMessage } from "./bus.ts";
import type { Presence, PresenceEntry } from "./presence.ts";
import { PRESENCE_CACHE_MS, PRESENCE_REFRESH_AHEAD_MS, RemoteCopies } from "./remote_copies.ts";

/** A presence whose reads are answered when the test says. */
class HeldPresence {
  readonly reads: string[][] = [];
  readonly #answers: (() => void)[] = [];
  getMany(deviceIds: readonly string[]): Promise<(PresenceEntry | null)[]> {
    this.reads.push([...deviceIds]);
    return new Promise((resolve) => {
      this.#answers.push(() =>
        resolve(deviceIds.map((deviceId) => ({
          deviceId,
          state: "online",
          instance: "b",
          expiresAt: new Date(0),
        })))
      );
    });
  }
  /** Answers every read so far. */
  answer(): void {
    for (const answer of this.#answers.splice(0)) answer();
  }
}

/** A bus whose sends resolve when the test says. */
class HeldBus {
  readonly healthy = true;
  readonly sent: HeldCopiesMessage[] = [];
  readonly #replies: (() => void)[] = [];
  send(_instance: string, message: BusMessage): Promise<void> {
    this.sent.push(message as HeldCopiesMessage);
    return new Promise((resolve) => this.#replies.push(resolve));
  }
  /** Redis answers the oldest publish. */
  reply(): void {
    this.#replies.shift()?.();
  }
}

function remoteCopies(presence: HeldPresence, bus: HeldBus, clock: { now: number }) {
  return new RemoteCopies({
    presence: presence as unknown as Presence,
    bus: bus as unknown as Bus,
    instanceId: "a",
    now: () => clock.now,
    storeHere: () => Promise.resolve(),
  });
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 1));

/** Turns pass until `done` (a timer set by a callback may come after the next turn's). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await turn();
}

Deno.test("remote copies: frames for a device whose presence is being read share that read", async () => {
  const presence = new HeldPresence();
  const clock = { now: 1_000_000 };
  const copies = remoteCopies(presence, new HeldBus(), clock);
  const first = copies.holders(["d1"]);
  const second = copies.holders(["d1", "d2"]);
  assert.ok(first instanceof Promise && second instanceof Promise);
  assert.deepEqual(presence.reads, [["d1"], ["d2"]]); // d1 once, d2 on its own
  presence.answer();
  assert.deepEqual([...await first], [["d1", "b"]]);
  assert.deepEqual([...await second], [["d1", "b"], ["d2", "b"]]);
  // Cached: synchronous, no read.
  assert.deepEqual([...copies.holders(["d1"]) as Map<string, string>], [["d1", "b"]]);
  assert.equal(presence.reads.length, 2);
});

Deno.test("remote copies: an answer near its expiry is read again while it is still used", async () => {
  const presence = new HeldPresence();
  const clock = { now: 1_000_000 };
  const copies = remoteCopies(presence, new HeldBus(), clock);
  const first = copies.holders(["d"]);
  presence.answer();
  await first;
  clock.now += PRESENCE_CACHE_MS - PRESENCE_REFRESH_AHEAD_MS;
  // Still answered from the cache, and read again once (not per frame).
  assert.ok(copies.holders(["d"]) instanceof Map);
  assert.ok(copies.holders(["d"]) instanceof Map);
  assert.equal(presence.reads.length, 2);
  presence.answer();
  await turn();
  clock.now += PRESENCE_REFRESH_AHEAD_MS + 1; // past the first answer's expiry, not the second's
  assert.deepEqual([...copies.holders(["d"]) as Map<string, string>], [["d", "b"]]);
  assert.equal(presence.reads.length, 2);
});

Deno.test("remote copies: one held-copies message on its way per instance; the rest goes in the next", async () => {
  const bus = new HeldBus();
  const copies = remoteCopies(new HeldPresence(), bus, { now: 0 });
  const frame = new Uint8Array([1, 2, 3]);
  copies.send("b", "d", "e1", frame);
  await turn();
  assert.equal(bus.sent.length, 1);
  copies.send("b", "d", "e2", frame);
  copies.send("b", "d", "e3", frame);
  await turn();
  assert.equal(bus.sent.length, 1, "waits for Redis's answer to the first");
  bus.reply();
  await until(() => bus.sent.length === 2);
  assert.deepEqual(bus.sent[1].copies.map((c) => c.envelopeId), ["e2", "e3"]);
  assert.equal(copies.stats.messages, 2);
  // Nothing on its way: the next goes at the end of its turn.
  bus.reply();
  await turn();
  copies.send("b", "d", "e4", frame);
  await until(() => bus.sent.length === 3);
  assert.deepEqual(bus.sent[2].copies.map((c) => c.envelopeId), ["e4"]);
});
