/** The running histogram exports what prom-client's Histogram exports for the same observations. */
import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { RunningHistogram } from "./running_histogram.ts";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const OBSERVED = [0, 0.0004, 0.0005, 0.0007, 0.003, 0.003, 0.02, 0.49, 1, 2.5, 3, 120];

/** The same metric twice: prom-client's and ours, each in a registry of its own. */
function both(observed: number[]) {
  const promRegistry = new Registry();
  const ourRegistry = new Registry();
  const config = { name: "x_seconds", help: "X.", buckets: BUCKETS };
  const prom = new Histogram({ ...config, registers: [promRegistry] });
  const ours = new RunningHistogram({ ...config, registers: [ourRegistry] });
  for (const v of observed) {
    prom.observe(v);
    ours.observe(v);
  }
  return { promRegistry, ourRegistry, prom, ours };
}

Deno.test("running histogram: exposition and JSON equal prom-client's, empty and after observations", async () => {
  for (const observed of [[], OBSERVED]) {
    const { promRegistry, ourRegistry } = both(observed);
    assert.equal(await ourRegistry.metrics(), await promRegistry.metrics());
    assert.deepEqual(await ourRegistry.getMetricsAsJSON(), await promRegistry.getMetricsAsJSON());
  }
});

Deno.test("running histogram: after the registry's reset, as prom-client's: no values until observed", async () => {
  const { promRegistry, ourRegistry, prom, ours } = both(OBSERVED);
  promRegistry.resetMetrics();
  ourRegistry.resetMetrics();
  assert.equal(await ourRegistry.metrics(), await promRegistry.metrics());
  assert.doesNotMatch(await ourRegistry.metrics(), /x_seconds_count/);
  prom.observe(0.004);
  ours.observe(0.004);
  assert.equal(await ourRegistry.metrics(), await promRegistry.metrics());
  assert.match(await ourRegistry.metrics(), /^x_seconds_count 1$/m);
});

Deno.test("running histogram: labelled series export as prom-client's label sets (zeroed, observed, reset)", async () => {
  const promRegistry = new Registry();
  const ourRegistry = new Registry();
  const config = { name: "h_seconds", help: "H.", buckets: BUCKETS };
  const prom = new Histogram({
    ...config,
    labelNames: ["result"] as const,
    registers: [promRegistry],
  });
  const ours = new RunningHistogram({ ...config, labelled: true, registers: [ourRegistry] });
  const same = async () => {
    assert.equal(await ourRegistry.metrics(), await promRegistry.metrics());
    assert.deepEqual(await ourRegistry.getMetricsAsJSON(), await promRegistry.getMetricsAsJSON());
  };
  await same();
  prom.zero({ result: "ok" });
  ours.zero({ result: "ok" });
  const failed = ours.series({ result: "failed" });
  const ok = ours.series({ result: "ok" });
  await same();
  for (const [i, v] of OBSERVED.entries()) {
    const result = i % 3 === 0 ? "failed" : "ok";
    prom.observe({ result }, v);
    (result === "ok" ? ok : failed).observe(v);
  }
  await same();
  promRegistry.resetMetrics();
  ourRegistry.resetMetrics();
  await same();
  // After a reset, series come back in the order they are observed again.
  prom.observe({ result: "failed" }, 0.2);
  failed.observe(0.2);
  prom.observe({ result: "ok" }, 0.01);
  ok.observe(0.01);
  await same();
});
