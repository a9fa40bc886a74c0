import assert from "node:assert/strict";
import type { TrafficSummary } from "./report_types.ts";
import type { LatencySummary } from "./stats.ts";
import {
  delaysBetween,
  delaySplitNote,
  dominantPart,
  parseHistogram,
  quantilesBetween,
} from "./server_delay.ts";

const exposition = (route: number[], loop: number[]) =>
  [
    "# HELP commucat_route_delay_seconds …",
    "# TYPE commucat_route_delay_seconds histogram",
    `commucat_route_delay_seconds_bucket{le="0.001"} ${route[0]}`,
    `commucat_route_delay_seconds_bucket{le="0.01"} ${route[1]}`,
    `commucat_route_delay_seconds_bucket{le="+Inf"} ${route[2]}`,
    `commucat_route_delay_seconds_sum 1`,
    `commucat_route_delay_seconds_count ${route[2]}`,
    `commucat_event_loop_delay_seconds_bucket{le="0.001"} ${loop[0]}`,
    `commucat_event_loop_delay_seconds_bucket{le="0.01"} ${loop[1]}`,
    `commucat_event_loop_delay_seconds_bucket{le="+Inf"} ${loop[2]}`,
  ].join("\n") + "\n";

Deno.test("server delay: buckets parsed, the window's quantiles interpolated in their bucket", () => {
  const before = parseHistogram(
    exposition([10, 10, 10], [0, 0, 0]),
    "commucat_route_delay_seconds",
  );
  assert.deepEqual(before, { bounds: [0.001, 0.01, Infinity], cumulative: [10, 10, 10] });
  // The window: 100 deliveries, 50 under 1 ms, 49 in 1–10 ms, 1 over 10 ms.
  const after = parseHistogram(
    exposition([60, 109, 110], [0, 0, 0]),
    "commucat_route_delay_seconds",
  );
  const q = quantilesBetween(before, after)!;
  assert.equal(q.count, 100);
  assert.equal(q.p50, 1); // rank 50 is the first bucket's top
  assert.ok(Math.abs(q.p99 - 10) < 1e-9, `${q.p99}`); // rank 99: the 49th of 49 in 1–10 ms
  assert.equal(parseHistogram("nothing", "commucat_route_delay_seconds"), null);
  assert.equal(quantilesBetween(after, after), null, "no observations in the window");
  const window = delaysBetween(
    {
      route: before,
      loop: parseHistogram(exposition([0, 0, 0], [0, 0, 0]), "commucat_event_loop_delay_seconds"),
    },
    {
      route: after,
      loop: parseHistogram(exposition([0, 0, 0], [1, 2, 3]), "commucat_event_loop_delay_seconds"),
    },
  )!;
  assert.equal(window.route?.count, 100);
  assert.equal(window.loop?.count, 3);
  assert.equal(window.loop?.p99, 10, "the +Inf bucket answers its lower bound");
  assert.equal(delaysBetween(null, { route: after, loop: null }), undefined);
});

function half(p99: number, route: number, loop: number): TrafficSummary {
  const latency: LatencySummary = {
    count: 1000,
    min: 0,
    p50: p99 / 4,
    p95: p99 / 2,
    p99,
    max: p99,
    mean: p99 / 4,
  };
  return {
    connections: 100,
    fanout: 1,
    targetPerSecond: 5000,
    deliveredPerSecond: 5000,
    sentPerSecond: 5000,
    latency,
    cdf: [],
    missing: 0,
    sendErrors: 0,
    serverCpuSeconds: null,
    serverCpuPer1000: null,
    deliveredPerServerCpuSecond: null,
    clientCores: 0.5,
    sendLateness: { ...latency, p99: 12 },
    serverDelay: {
      route: { count: 25_000, p50: 0.1, p99: route },
      loop: { count: 1_000, p50: 0.2, p99: loop },
    },
  };
}

Deno.test("server delay: the split note names the dominant side of each 50% phase", () => {
  const client = half(40, 1, 4);
  const server = half(40, 5, 20);
  assert.equal(dominantPart(client), "client");
  assert.equal(dominantPart(server), "server");
  assert.equal(dominantPart({ ...client, serverDelay: undefined }), null);
  const note = delaySplitNote([
    ["CommuCat pairs, 50%", client],
    ["direct accept, pairs, 50%", server],
    ["absent", null],
  ])!;
  assert.match(
    note,
    /CommuCat pairs, 50%: end-to-end p99 40\.0 ms; server read → write p50 0\.100 ms, p99 1\.00 ms \(25,000\)/,
  );
  assert.match(
    note,
    /server part ≤ 5\.00 ms \(13% of the p99\); client pacing lateness p99 12\.0 ms — \*\*client dominates\*\*/,
  );
  assert.match(note, /direct accept, pairs, 50%: .* \(63% of the p99\).*\*\*server dominates\*\*/);
  assert.equal(delaySplitNote([["x", { ...client, serverDelay: undefined }]]), null);
});
