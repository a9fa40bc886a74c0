import assert from "node:assert/strict";
import { CoarseSchedule, type DueItem } from "./coarse_schedule.ts";

/** An item that records when it was called, on the schedule's clock. */
function item(log: string[], name: string, extra?: () => void): DueItem {
  return {
    due: () => {
      log.push(name);
      extra?.();
    },
  };
}

/** Waits until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(check());
}

Deno.test("coarse schedule: items fire in deadline order, never before their delay", async () => {
  const schedule = new CoarseSchedule(5);
  const log: string[] = [];
  const start = performance.now();
  const firedAt: number[] = [];
  schedule.add(item(log, "late", () => firedAt.push(performance.now() - start)), 40);
  schedule.add(item(log, "early", () => firedAt.push(performance.now() - start)), 10);
  assert.equal(schedule.size, 2);
  try {
    await until(() => log.length === 2);
    assert.deepEqual(log, ["early", "late"]);
    assert.ok(firedAt[0] >= 10 - 1, `early fired at ${firedAt[0]} ms`);
    assert.ok(firedAt[1] >= 40 - 1, `late fired at ${firedAt[1]} ms`);
    assert.equal(schedule.size, 0);
  } finally {
    schedule.stop();
  }
});

Deno.test("coarse schedule: deadlines round up to the slot (late by at most one granularity)", () => {
  let now = 1000;
  const schedule = new CoarseSchedule(1000, () => now);
  try {
    assert.equal(schedule.add({ due() {} }, 1), 2, "1001 ms rounds up to slot 2 (2000 ms)");
    assert.equal(schedule.add({ due() {} }, 1000), 2, "exactly on a slot boundary");
    now = 1500;
    assert.equal(schedule.add({ due() {} }, 600), 3);
  } finally {
    schedule.stop();
  }
});

Deno.test("coarse schedule: removed items never fire, also when removed by an item of the same slot", async () => {
  const schedule = new CoarseSchedule(5);
  const log: string[] = [];
  const gone = item(log, "gone");
  const victim = item(log, "victim");
  const slot = schedule.add(gone, 5);
  schedule.remove(gone, slot);
  schedule.remove(gone, slot); // twice is harmless
  assert.equal(schedule.size, 0);
  // `killer` and `victim` share a slot; whichever is called first, `victim` is not called after removal.
  let victimSlot = -1;
  const killer = item(log, "killer", () => schedule.remove(victim, victimSlot));
  schedule.add(killer, 5);
  victimSlot = schedule.add(victim, 5);
  try {
    await until(() => log.includes("killer"));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(log, ["killer"]);
  } finally {
    schedule.stop();
  }
});

Deno.test("coarse schedule: an item may add itself again from due(); stop() drops everything", async () => {
  const schedule = new CoarseSchedule(2);
  let calls = 0;
  const again: DueItem = {
    due: () => {
      calls++;
      if (calls < 3) schedule.add(again, 2);
    },
  };
  schedule.add(again, 2);
  await until(() => calls === 3);
  assert.equal(schedule.size, 0);
  const log: string[] = [];
  schedule.add(item(log, "never"), 5);
  schedule.stop();
  assert.equal(schedule.size, 0);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(log, []);
});

Deno.test("coarse schedule: granularity must be positive", () => {
  assert.throws(() => new CoarseSchedule(0), RangeError);
});

Deno.test("coarse schedule: a keep-alive schedule drops its timer with its last item", async () => {
  // The test's timer sanitizer fails the test if a timer is left pending at its end.
  const schedule = new CoarseSchedule(5, undefined, true);
  const a = { due: () => {} };
  const b = { due: () => {} };
  const slotA = schedule.add(a, 50);
  const slotB = schedule.add(b, 10_000);
  schedule.remove(a, slotA);
  schedule.remove(b, slotB);
  assert.equal(schedule.size, 0);
  let fired = 0;
  schedule.add({ due: () => void fired++ }, 1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(fired, 1);
});
