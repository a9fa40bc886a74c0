import assert from "node:assert/strict";
import { LoopDelayMonitor } from "./loop_delay.ts";

Deno.test("loop delay: each sample is the lateness against the due time, in seconds", () => {
  let now = 1_000;
  const seen: number[] = [];
  const monitor = new LoopDelayMonitor({ observe: (s) => seen.push(s) }, 5, () => now);
  monitor.start();
  assert.ok(monitor.running);
  // Due at 1,005: run at 1,012 (a 7 ms stall), then on time.
  now = 1_012;
  monitor.sample();
  monitor.stop();
  assert.ok(!monitor.running);
  assert.deepEqual(seen, [0.007]);
  assert.throws(() => new LoopDelayMonitor({ observe() {} }, 0), RangeError);
});

Deno.test("loop delay: the timer samples until stopped", async () => {
  const seen: number[] = [];
  const monitor = new LoopDelayMonitor({ observe: (s) => seen.push(s) }, 1);
  monitor.start();
  while (seen.length < 3) await new Promise((resolve) => setTimeout(resolve, 2));
  monitor.stop();
  assert.ok(seen.every((s) => s >= 0 && Number.isFinite(s)));
});
