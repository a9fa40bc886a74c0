import assert from "node:assert/strict";
import { AckClock } from "./ack_clock.ts";

/** A clock whose time the test sets; its timer is real (delays of 0–2 ms). */
function clock(delayMs: number) {
  const time = { now: 0 };
  return { time, ackClock: new AckClock(delayMs, () => time.now) };
}

Deno.test("ack clock: calls in the order scheduled, each once its delay passed", async () => {
  const { time, ackClock } = clock(2);
  const calls: string[] = [];
  let second!: () => void;
  const secondCalled = new Promise<void>((resolve) => (second = resolve));
  ackClock.schedule(() => calls.push("a"));
  time.now = 1;
  ackClock.schedule(() => {
    calls.push("b");
    second();
  });
  // At 2.5 only "a" is due: "b" (due at 3) waits for the next firing.
  time.now = 2.5;
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(calls, ["a"]);
  assert.equal(ackClock.pending, 1);
  time.now = 3;
  await secondCalled;
  assert.deepEqual(calls, ["a", "b"]);
  assert.equal(ackClock.pending, 0);
});

Deno.test("ack clock: a cancelled call never runs, and the timer stops with nothing left", async () => {
  const { time, ackClock } = clock(1);
  let ran = 0;
  const call = () => ran++;
  ackClock.schedule(call);
  ackClock.schedule(call);
  ackClock.cancel(call);
  assert.equal(ackClock.pending, 0);
  // No timer is left (the test's op sanitizer would fail on one); a later call still runs.
  time.now = 5;
  let done!: () => void;
  const later = new Promise<void>((resolve) => (done = resolve));
  ackClock.schedule(done);
  time.now = 6;
  await later;
  assert.equal(ran, 0);
});

Deno.test("ack clock: one firing runs every due call, through compactions", async () => {
  const { time, ackClock } = clock(0);
  let ran = 0;
  let all!: () => void;
  const finished = new Promise<void>((resolve) => (all = resolve));
  const keep: (() => void)[] = [];
  for (let i = 0; i < 300; i++) {
    const call = () => {
      if (++ran === 200) all();
    };
    keep.push(call);
    ackClock.schedule(call);
  }
  for (let i = 0; i < 100; i++) ackClock.cancel(keep[3 * i]);
  time.now = 1;
  await finished;
  assert.equal(ran, 200);
  assert.equal(ackClock.pending, 0);
});
