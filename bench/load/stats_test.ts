import assert from "node:assert/strict";
import { LatencyHistogram, percentile, ratePerSecond, ratio } from "./stats.ts";
import {
  cpuSecondsOf,
  parseProcStat,
  parseSchedstatWait,
  parseVmRss,
  readRunQueueWaitSeconds,
} from "./procfs.ts";

Deno.test("percentile uses the nearest rank", () => {
  const values = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
  assert.equal(percentile(values, 0.5), 5);
  assert.equal(percentile(values, 0.9), 9);
  assert.equal(percentile(values, 0.99), 10);
  assert.equal(percentile(values, 0), 1);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

Deno.test("histogram quantiles are within the bucket precision of the exact ones", () => {
  const histogram = new LatencyHistogram();
  const values: number[] = [];
  for (let i = 1; i <= 10_000; i++) {
    const v = 0.05 + (i % 997) * 0.013 + (i % 13 === 0 ? 40 : 0);
    values.push(v);
    histogram.record(v);
  }
  for (const q of [0.5, 0.95, 0.99]) {
    const exact = percentile(values, q);
    const estimate = histogram.quantile(q);
    assert.ok(Math.abs(estimate - exact) / exact < 0.05, `q=${q}: ${estimate} vs ${exact}`);
  }
  const summary = histogram.summary();
  assert.equal(summary.count, 10_000);
  assert.equal(summary.min, Math.min(...values));
  assert.equal(summary.max, Math.max(...values));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(summary.mean - mean) < 1e-9);
});

Deno.test("histogram clamps to the exact min and max and handles zero and negatives", () => {
  const histogram = new LatencyHistogram();
  histogram.record(2.5);
  assert.equal(histogram.quantile(0.5), 2.5);
  histogram.record(-1);
  histogram.record(0);
  assert.equal(histogram.summary().min, 0);
  assert.equal(histogram.quantile(0), 0);
  assert.ok(Number.isNaN(new LatencyHistogram().quantile(0.5)));
});

Deno.test("histograms merge through their JSON form", () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  const whole = new LatencyHistogram();
  for (let i = 0; i < 1000; i++) {
    const v = (i % 100) / 7 + 0.01;
    (i % 2 ? a : b).record(v);
    whole.record(v);
  }
  const merged = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(a)));
  merged.merge(b.toJSON());
  const { mean, ...rest } = merged.summary();
  const { mean: wholeMean, ...wholeRest } = whole.summary();
  assert.deepEqual(rest, wholeRest);
  assert.ok(Math.abs(mean - wholeMean) < 1e-9);
  assert.deepEqual(merged.toJSON().counts, whole.toJSON().counts);
});

Deno.test("the CDF rises to 1 and its points are ordered", () => {
  const histogram = new LatencyHistogram();
  for (const v of [0.2, 0.4, 0.4, 1, 3, 3, 3, 12]) histogram.record(v);
  const cdf = histogram.cdf();
  assert.equal(cdf.at(-1)!.fraction, 1);
  assert.equal(cdf.at(-1)!.ms, 12);
  for (let i = 1; i < cdf.length; i++) {
    assert.ok(cdf[i].ms > cdf[i - 1].ms);
    assert.ok(cdf[i].fraction > cdf[i - 1].fraction);
  }
});

Deno.test("rates and ratios guard against missing or zero inputs", () => {
  assert.equal(ratePerSecond(500, 2), 250);
  assert.equal(ratePerSecond(5, 0), 0);
  assert.equal(ratio(50, 100), 0.5);
  assert.equal(ratio(50, 0), null);
  assert.equal(ratio(null, 100), null);
  assert.equal(ratio(NaN, 100), null);
});

Deno.test("/proc/<pid>/stat: utime and stime are counted after the command name", () => {
  // The command name holds a space and a parenthesis, as `comm` may.
  const line = "4242 (deno (x) y) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1500 250 0 0 20 0 12 0 " +
    "900 1234567 890 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0";
  assert.deepEqual(parseProcStat(line), { user: 1500, system: 250 });
  assert.equal(cpuSecondsOf(parseProcStat(line)), 17.5);
  assert.throws(() => parseProcStat("garbage"), /not a \/proc/);
  assert.throws(() => parseProcStat("1 (x) S 1 2"), /malformed/);
});

Deno.test("/proc/<pid>/status: VmRSS in bytes", () => {
  const status = "Name:\tdeno\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nThreads:\t12\n";
  assert.equal(parseVmRss(status), 123456 * 1024);
  assert.throws(() => parseVmRss("Name:\tdeno\n"), /no VmRSS/);
});

Deno.test("procfs: schedstat gives the run-queue wait in seconds", () => {
  assert.ok(Math.abs(parseSchedstatWait("2967707 813319 1\n") - 0.000813319) < 1e-15);
  assert.equal(parseSchedstatWait("5000000000 1500000000 4200"), 1.5);
  assert.throws(() => parseSchedstatWait(""));
  assert.throws(() => parseSchedstatWait("12 x 3"));
});

Deno.test("procfs: the run-queue wait of this process is readable and only grows", () => {
  const before = readRunQueueWaitSeconds(Deno.pid);
  if (before === null) {
    console.warn("SKIPPED: /proc/<pid>/schedstat is not readable here (no schedstats)");
    return;
  }
  const after = readRunQueueWaitSeconds(Deno.pid);
  assert.ok(after !== null && after >= before);
});
