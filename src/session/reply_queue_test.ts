/**
 * The replies that wait for durable copies: released in frame order, and
 * synchronously in the call that settles the last copy (a recipient's Ack),
 * so the released Ack joins that turn's outbound batch.
 */
import assert from "node:assert/strict";
import { type DecodedFrame, type Frame, FrameType } from "../proto/mod.ts";
import { KeptCopies } from "../router/kept_copies.ts";
import { FakeClock } from "../router/testing.ts";
import { ReplyQueue } from "./reply_queue.ts";

const frame = (sequence: number): DecodedFrame => ({
  type: FrameType.Msg,
  channel: 1,
  sequence,
  payload: new Uint8Array(0),
  control: undefined,
});

/** A queue whose sink records what it is given, in order. */
function recorder() {
  const events: string[] = [];
  const reported: unknown[] = [];
  const queue = new ReplyQueue({
    reply: (f: DecodedFrame, reply: Frame | null) => {
      if (f.sequence === 99) throw new Error("boom");
      events.push(`reply ${f.sequence}${reply === null ? " (owed)" : ""}`);
    },
    failed: (f: DecodedFrame, error: unknown) =>
      events.push(`failed ${f.sequence}: ${(error as Error).message}`),
    released: () => events.push("released"),
  }, (error) => reported.push(error));
  return { queue, events, reported };
}

function window(write: () => Promise<void> = () => Promise.resolve()) {
  const kept = new KeptCopies({ delayMs: 200, clock: new FakeClock(), write });
  let n = 0;
  /** Keeps one copy (envelope `e<n>`) and returns its Durability. */
  const keep = () => {
    const envelopeId = `e${++n}`;
    kept.keep({
      envelopeId,
      deviceId: "bob",
      payload: new Uint8Array(4),
      keptAt: 0,
      connectionId: "bob-c1",
    });
    return { envelopeId, durable: kept.durable()! };
  };
  return { kept, keep };
}

Deno.test("reply queue: the recipient's Ack releases the sender's Ack within the same call", () => {
  const { kept, keep } = window();
  const { queue, events } = recorder();
  const copy = keep();
  queue.afterDurable(frame(1), null, copy.durable);
  assert.deepEqual(events, []);
  assert.equal(queue.empty, false);
  assert.ok(kept.acknowledge(copy.envelopeId));
  // No microtask ran: the reply is already owed, ahead of the turn's outbound flush.
  assert.deepEqual(events, ["reply 1 (owed)", "released"]);
  assert.equal(queue.empty, true);
});

Deno.test("reply queue: replies keep frame order; a failed write answers its frame with the Error", async () => {
  const { kept, keep } = window(() => Promise.reject(new Error("disk full")));
  const { queue, events } = recorder();
  const first = keep();
  const second = keep();
  queue.afterDurable(frame(1), null, first.durable);
  queue.afterDurable(frame(2), null, second.durable);
  queue.ready(frame(3), null);
  kept.acknowledge(second.envelopeId);
  assert.deepEqual(events, [], "2 and 3 wait behind 1");
  kept.undelivered(first.envelopeId); // written at once: the write fails
  await first.durable.catch(() => {});
  assert.deepEqual(events, ["failed 1: disk full", "reply 2 (owed)", "reply 3 (owed)", "released"]);
});

Deno.test("reply queue: a plain promise works too; a reply that throws is reported and the next goes", async () => {
  const { queue, events, reported } = recorder();
  let resolve!: () => void;
  const stored = new Promise<void>((r) => (resolve = r));
  queue.afterDurable(frame(99), null, stored);
  queue.ready(frame(4), null);
  assert.deepEqual(events, []);
  resolve();
  await stored;
  assert.deepEqual(events, ["reply 4 (owed)", "released"]);
  assert.equal(reported.length, 1);
  assert.equal((reported[0] as Error).message, "boom");
});

Deno.test("durability: awaitable, and a listener added after it settled is told at once", async () => {
  const { kept, keep } = window();
  const copy = keep();
  kept.acknowledge(copy.envelopeId);
  await copy.durable; // resolves like a promise
  let told = false;
  copy.durable.whenSettled({ durable: () => (told = true), failed: () => {} });
  assert.ok(told);
});

Deno.test("reply queue: a waiting reply keeps which frame it answers, not the frame (nor its payload)", async () => {
  const { kept, keep } = window();
  const given: unknown[] = [];
  const queue = new ReplyQueue({
    reply: (about, reply) => given.push({ about, reply }),
    failed: (about) => given.push({ failed: about }),
    released: () => {},
  }, () => {});
  const sent = { ...frame(7), channel: 9, payload: new Uint8Array(64) };
  const copy = keep();
  queue.afterDurable(sent, null, copy.durable);
  kept.acknowledge(copy.envelopeId);
  await Promise.resolve();
  assert.equal(given.length, 1);
  const { about } = given[0] as { about: Record<string, unknown> };
  assert.notEqual(about, sent, "not the frame itself");
  assert.equal(about.channel, 9);
  assert.equal(about.sequence, 7);
  assert.equal("payload" in about, false, "no payload held");
});

Deno.test("reply queue: copies settled in any order release the replies in frame order, each once", () => {
  const { kept, keep } = window();
  const { queue, events } = recorder();
  const copies = [1, 2, 3, 4, 5].map((sequence) => {
    const copy = keep();
    queue.afterDurable(frame(sequence), null, copy.durable);
    return copy;
  });
  for (const i of [3, 1, 4]) kept.acknowledge(copies[i].envelopeId);
  assert.deepEqual(events, [], "all wait behind the first");
  kept.acknowledge(copies[0].envelopeId);
  assert.deepEqual(events, ["reply 1 (owed)", "reply 2 (owed)", "released"]);
  kept.acknowledge(copies[0].envelopeId); // a second Ack of the same copy changes nothing
  kept.acknowledge(copies[2].envelopeId);
  assert.deepEqual(events.slice(3), [
    "reply 3 (owed)",
    "reply 4 (owed)",
    "reply 5 (owed)",
    "released",
  ]);
  assert.equal(queue.empty, true);
  // A late word about a frame already answered is ignored.
  queue.durable(2);
  queue.failed(new Error("late"), 3);
  assert.equal(events.length, 7);
});

Deno.test("reply queue: hundreds waiting, released in frame order across the move of the rest to the front, and again after it emptied", () => {
  const { kept, keep } = window();
  const { queue, events } = recorder();
  const copies = [];
  for (let i = 1; i <= 600; i++) {
    const copy = keep();
    copies.push(copy);
    queue.afterDurable(frame(1000 + i), null, copy.durable); // (99 is the sink's throw)
  }
  // The first 400 settle (in reverse: nothing goes until the first does), then the rest.
  for (let i = 399; i >= 0; i--) kept.acknowledge(copies[i].envelopeId);
  const replies = () => events.filter((e) => e.startsWith("reply"));
  assert.equal(replies().length, 400);
  for (let i = 400; i < 600; i++) kept.acknowledge(copies[i].envelopeId);
  assert.deepEqual(replies(), Array.from({ length: 600 }, (_, i) => `reply ${1001 + i} (owed)`));
  assert.equal(queue.empty, true);
  // Emptied: the next replies start over at the front.
  const next = keep();
  queue.afterDurable(frame(1601), null, next.durable);
  queue.ready(frame(1602), null);
  assert.equal(replies().length, 600, "1602 waits behind 1601");
  kept.acknowledge(next.envelopeId);
  assert.deepEqual(replies().slice(600), ["reply 1601 (owed)", "reply 1602 (owed)"]);
});
