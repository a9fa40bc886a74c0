import assert from "node:assert/strict";
import { type RequestAck, RequestWaiters } from "./request_waiters.ts";

function recorder() {
  const log: string[] = [];
  const add = (waiters: RequestWaiters, sequence: number) =>
    waiters.add(
      sequence,
      (ack: RequestAck) => log.push(`ok ${ack.sequence} ${ack.ack}`),
      (error: Error) => log.push(`err ${sequence} ${error.message}`),
    );
  return { log, add };
}

Deno.test("request waiters: each answered by its own Ack or Error, with its sequence", () => {
  const waiters = new RequestWaiters();
  const { log, add } = recorder();
  for (const s of [3, 5, 9]) add(waiters, s);
  assert.equal(waiters.resolve(5, { ack: 5 }), true);
  assert.equal(waiters.resolve(5, { ack: 5 }), false, "answered once");
  assert.equal(waiters.resolve(4, { ack: 4 }), false, "never asked");
  assert.equal(waiters.reject(9, new Error("nope")), true);
  assert.equal(waiters.size, 1);
  assert.equal(waiters.resolve(3, { ack: 3 }), true);
  assert.deepEqual(log, ["ok 5 5", "err 9 nope", "ok 3 3"]);
  assert.equal(waiters.size, 0);
});

Deno.test("request waiters: a cumulative Ack resolves the waiting ones up to it, in order", () => {
  const waiters = new RequestWaiters();
  const { log, add } = recorder();
  for (const s of [2, 4, 6, 8]) add(waiters, s);
  waiters.resolve(4, { ack: 4 });
  waiters.resolveUpTo(6, { ack: 6, upto: true });
  assert.deepEqual(log, ["ok 4 4", "ok 2 6", "ok 6 6"]);
  assert.equal(waiters.size, 1);
  waiters.rejectAll(new Error("closed"));
  assert.deepEqual(log.slice(3), ["err 8 closed"]);
  assert.equal(waiters.size, 0);
  assert.equal(waiters.resolve(8, { ack: 8 }), false);
});

Deno.test("request waiters: sequences must grow", () => {
  const waiters = new RequestWaiters();
  const { add } = recorder();
  add(waiters, 7);
  assert.throws(() => add(waiters, 7), /grow/);
});

Deno.test("request waiters: thousands in flight, answered out of order and cumulatively", () => {
  const waiters = new RequestWaiters();
  const answered = new Set<number>();
  const resolve = (ack: RequestAck) => {
    assert.ok(!answered.has(ack.sequence), `answered once: ${ack.sequence}`);
    answered.add(ack.sequence);
  };
  let next = 1;
  for (let round = 0; round < 200; round++) {
    const first = next;
    for (let i = 0; i < 50; i++) waiters.add(next++, resolve, () => assert.fail("rejected"));
    // Every third one answered on its own (through the compactions), the rest cumulatively.
    for (let s = first + 2; s < next; s += 3) assert.equal(waiters.resolve(s, { ack: s }), true);
    if (round % 2 === 1) waiters.resolveUpTo(next - 1, { ack: next - 1, upto: true });
  }
  waiters.resolveUpTo(next - 1, { ack: next - 1, upto: true });
  assert.equal(answered.size, next - 1);
  assert.equal(waiters.size, 0);
});

Deno.test("request waiters: slots reused after every answer, a stale one never matches", () => {
  const waiters = new RequestWaiters();
  const { log, add } = recorder();
  for (let round = 0; round < 3; round++) {
    // Around the kept storage's size: the large burst frees it, the small ones reuse it.
    const count = round === 1 ? 300 : 2;
    const first = 1000 * (round + 1);
    for (let i = 0; i < count; i++) add(waiters, first + i);
    assert.equal(waiters.resolve(first - 1000, { ack: 0 }), false, "a sequence of a past round");
    waiters.resolveUpTo(first + count - 1, { ack: first + count - 1, upto: true });
    assert.equal(waiters.size, 0);
    assert.equal(waiters.resolve(first, { ack: first }), false, "answered already");
  }
  // The order check sees the live slots only, not what the kept storage still holds.
  add(waiters, 10);
  assert.throws(() => add(waiters, 9), /grow/);
  assert.equal(log.length, 2 + 300 + 2);
  assert.equal(log.at(-1), "ok 3001 3001");
});
