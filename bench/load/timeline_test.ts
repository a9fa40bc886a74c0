import assert from "node:assert/strict";
import {
  gcsDuring,
  latencyQuantile,
  LOG_READ_TIME_HEADER,
  mergeTimelines,
  parseGcLog,
  type PhaseTimeline,
  slowEpisodes,
  tickGapsDuring,
  timelineName,
} from "./timeline.ts";

/** Steady 2 ms deliveries every ms, with two stalls (a burst of slow ones at 500 and 900 ms). */
function stalledTimeline(): PhaseTimeline {
  const deliveries: number[] = [];
  for (let t = 0; t < 1000; t++) {
    const stalled = (t >= 500 && t < 505) || (t >= 900 && t < 903);
    deliveries.push(1_000_000 + t, stalled ? 40 + (t % 5) : 2);
  }
  return { deliveries, tickGaps: [] };
}

Deno.test("timeline: slow deliveries group into one episode per stall", () => {
  const timeline = stalledTimeline();
  assert.equal(latencyQuantile(timeline, 0.5), 2);
  const episodes = slowEpisodes(timeline, 40);
  assert.deepEqual(
    episodes.map((e) => [e.startMs - 1_000_000, e.endMs - 1_000_000, e.deliveries, e.maxLatencyMs]),
    [[500, 504, 5, 44], [900, 902, 3, 42]],
  );
});

Deno.test("timeline: a GC that ended while an episode's deliveries were in flight is matched", () => {
  const log = [
    "1000480.5 [3825:0x560392ae0000]     3248 ms: Scavenge 62.9 (92.2) -> 37.5 (93.2) MB, " +
    "pooled: 0.0 MB, 28.77 / 0.00 ms (average mu = 0.984, current mu = 0.984) allocation failure; ",
    "1000700.0 [3825:0x560392ae0000]     6674 ms: Scavenge (during sweeping) 106.1 (140.9) -> 80.5 " +
    "(140.9) MB, pooled: 58.5 MB, 108.49 / 0.00 ms (average mu = 0.974) allocation failure; ",
    "1000890.0 [3825:0x560392ae0000]     2054 ms: Incremental Mark-Compact 37.8 (62.2) -> 27.1 " +
    "(61.7) MB, pooled: 0.5 MB, 4.10 / 0.00 ms (+ 28.3 ms in 405 steps) finalize",
    "commucat listening on https://127.0.0.1:37597",
  ].join("\n");
  const gcs = parseGcLog(log);
  assert.deepEqual(gcs.map((g) => [g.kind, g.pauseMs]), [
    ["Scavenge", 28.77],
    ["Scavenge", 108.49],
    ["Incremental Mark-Compact", 4.1],
  ]);
  const [first, second] = slowEpisodes(stalledTimeline(), 40);
  assert.deepEqual(gcsDuring(first, gcs).map((g) => g.pauseMs), [28.77]);
  assert.deepEqual(gcsDuring(second, gcs).map((g) => g.pauseMs), [4.1]);
});

Deno.test("timeline: agents' parts merge, and phase labels make file names", () => {
  const merged = mergeTimelines([
    { deliveries: [1, 2], tickGaps: [5, 4] },
    { deliveries: [3, 4], tickGaps: [] },
  ]);
  assert.deepEqual(merged, { deliveries: [1, 2, 3, 4], tickGaps: [5, 4], origins: [] });
  assert.equal(timelineName("pairs (direct), 50%"), "pairs-direct-50pct");
  assert.equal(timelineName("raw relay, max"), "raw-relay-max");
});

Deno.test("timeline: a log prefixed when read is placed by V8's own ms, from its soonest-read line", () => {
  const scavenge = (ms: number, pause: string) =>
    `[3825:0x560392ae0000]     ${ms} ms: Scavenge 62.9 (92.2) -> 37.5 (93.2) MB, ${pause} / 0.00 ms `;
  // Written at 999,000 + ms; the second line was read 30 ms late (the reader was busy).
  const log = [
    LOG_READ_TIME_HEADER,
    `1000500.0 ${scavenge(1500, "3.10")}`,
    `1000530.0 ${scavenge(1500, "2.00")}`,
    `1000901.0 ${scavenge(1900, "5.00")}`,
    // Another server in the same log: placed by its own offset.
    `1000200.0 ${scavenge(1900, "7.00").replace("3825", "4000")}`,
  ].join("\n");
  assert.deepEqual(parseGcLog(log).map((g) => [g.atMs, g.pauseMs]), [
    [1000500, 3.1],
    [1000500, 2],
    [1000900, 5],
    [1000200, 7],
  ]);
  // The CLI's own log has no prefix: placed from its process's time origin.
  const own = [scavenge(500, "1.50"), "### Delivery"].join("\n");
  assert.deepEqual(parseGcLog(own, 999_950).map((g) => [g.atMs, g.pauseMs]), [[1000450, 1.5]]);
  assert.deepEqual(parseGcLog(own), [], "no origin: not placed");
});

Deno.test("timeline: the client's tick gaps during an episode", () => {
  const timeline = stalledTimeline();
  timeline.tickGaps = [1_000_480, 12, 1_000_700, 30, 1_000_901, 4];
  const [first, second] = slowEpisodes(timeline, 40);
  assert.deepEqual(tickGapsDuring(first, timeline), [12]);
  assert.deepEqual(tickGapsDuring(second, timeline), [4]);
});
