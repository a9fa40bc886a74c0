import assert from "node:assert/strict";
import { pacedSchedule } from "./traffic.ts";

Deno.test("pacing: senders are staggered into one evenly spaced stream", () => {
  // 100 pair senders at 5,000 deliveries/s: each sends every 20 ms.
  const { intervalMs, firstDueMs } = pacedSchedule(100, 1, 5_000);
  assert.equal(intervalMs, 20);
  assert.equal(firstDueMs.length, 100);
  // Merged over one interval, the first sends are 0.2 ms apart (1 / 5,000 s): no two at once.
  for (let i = 1; i < firstDueMs.length; i++) {
    assert.ok(Math.abs(firstDueMs[i] - firstDueMs[i - 1] - 0.2) < 1e-9);
  }
  assert.ok(firstDueMs[99] < intervalMs);
});

Deno.test("pacing: the rate counts deliveries, so a fanout stretches each sender's interval", () => {
  // Groups of 10: 9 deliveries per message.
  assert.equal(pacedSchedule(100, 9, 9_000).intervalMs, 100);
});

Deno.test("pacing: refuses a schedule it cannot make", () => {
  assert.throws(() => pacedSchedule(0, 1, 100));
  assert.throws(() => pacedSchedule(10, 1, 0));
  assert.throws(() => pacedSchedule(10, 1, Number.NaN));
});
