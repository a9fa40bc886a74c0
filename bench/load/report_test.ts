import assert from "node:assert/strict";
import {
  hybridCpuRatios,
  ms,
  multipathNote,
  num,
  pacingNote,
  renderLatencySvg,
  renderMarkdown,
  runQueueNote,
  table,
} from "./report.ts";
import type { LoadReport, StormSummary, TrafficSummary } from "./report_types.ts";
import { parsePerfReport } from "./spawn.ts";
import { LatencyHistogram } from "./stats.ts";
import { evaluateTargets, TARGETS } from "./targets.ts";
import { judgeBudgets } from "./verdicts.ts";

function traffic(
  deliveredPerSecond: number,
  p99: number,
  cpuPer1000: number | null,
): TrafficSummary {
  const latency = new LatencyHistogram();
  for (let i = 0; i < 99; i++) latency.record(p99 / 4);
  latency.record(p99);
  return {
    connections: 100,
    fanout: 1,
    targetPerSecond: null,
    deliveredPerSecond,
    sentPerSecond: deliveredPerSecond,
    latency: { ...latency.summary(), p99 },
    cdf: latency.cdf(),
    missing: 0,
    sendErrors: 0,
    serverCpuSeconds: cpuPer1000 === null ? null : cpuPer1000 * deliveredPerSecond / 1000 * 5,
    serverCpuPer1000: cpuPer1000,
    deliveredPerServerCpuSecond: cpuPer1000 === null ? null : 1000 / cpuPer1000,
    clientCores: 0.8,
  };
}

function storm(perSecond: number): StormSummary {
  return {
    count: 1000,
    ok: 1000,
    failed: 0,
    concurrency: 64,
    seconds: 1000 / perSecond,
    perSecond,
    latency: new LatencyHistogram().summary(),
    serverCpuSeconds: 2,
    serverCpuMsPerHandshake: 2,
    clientCores: 0.7,
  };
}

function sampleReport(): Omit<LoadReport, "targets"> {
  return {
    date: "2026-11-24",
    commit: "abc1234",
    machine: {
      cpu: "AMD EPYC",
      cores: 2,
      kernel: "linux 6.18",
      deno: "2.9.6",
      loadAverage: "1 1 1",
    },
    config: {
      scenarios: ["pairs", "handshake"],
      mode: "websocket",
      pattern: "XK",
      workers: 0,
      pairs: 50,
      groups: 10,
      groupSize: 10,
      handshakes: 1000,
      concurrency: 64,
      idleConnections: 2000,
      warmupSeconds: 1,
      durationSeconds: 5,
      window: 8,
      target: "spawned",
    },
    clientSide: "one process",
    primitives: {
      x25519DhUs: 60,
      zkpVerifyUs: 450,
      certificateIssueUs: 50,
      handshakeUs: 680,
      handshakesPerCoreSecond: 1e6 / 680,
    },
    relay: { max: traffic(100_000, 5, 8), half: null },
    relayTls: null,
    pairs: { max: traffic(60_000, 20, 0.02), half: traffic(30_000, 12, 0.05) },
    fanout: null,
    handshake: storm(1000),
    reconnect: null,
    idle: {
      connections: 2000,
      baselineRssBytes: 100 << 20,
      loadedRssBytes: (100 << 20) + 2000 * 20 * 1024,
      bytesPerConnection: 20 * 1024,
      openSeconds: 4,
    },
    relayIdle: {
      connections: 2000,
      baselineRssBytes: 50 << 20,
      loadedRssBytes: (50 << 20) + 2000 * 14 * 1024,
      bytesPerConnection: 14 * 1024,
      openSeconds: 3,
    },
    profiles: [],
    notes: ["a note | with a pipe"],
  };
}

Deno.test("targets: each budget is met or not against the same run's baselines", () => {
  const results = evaluateTargets(sampleReport());
  const byId = Object.fromEntries(results.map((r) => [r.id, r]));
  assert.equal(byId["pairs-vs-relay"].met, true);
  assert.equal(byId["pairs-vs-relay"].value, 0.6);
  // 0.02 CPU-s per 1,000 means 50,000 msg per CPU-second.
  assert.equal(byId["delivered-per-cpu-second"].met, true);
  assert.equal(Math.round(byId["delivered-per-cpu-second"].value!), 50_000);
  // 1000/s against a bound of 1470/s is 68 %.
  assert.equal(byId["handshakes-vs-bound"].met, true);
  // 20 KiB against a floor of 14 KiB: 6 KiB of ours, over the 4 KiB budget.
  assert.equal(byId["idle-memory"].met, false);
  assert.equal(byId["idle-memory"].value, 6 * 1024);
  assert.match(byId["idle-memory"].note!, /measured at 2,000 connections/);
  assert.equal(byId["p99-at-half"].met, false);
  assert.equal(byId["p99-at-half"].value, 12);
});

Deno.test("targets: 1:1 per server CPU-second is also put against the TLS relay with acks", () => {
  const report = sampleReport();
  // 0.05 CPU-s per 1,000 = 20,000 msg per CPU-second; pairs 0.02 = 50,000: 250%.
  report.relayTls = { max: traffic(50_000, 6, 0.01), acked: traffic(25_000, 9, 0.05) };
  const byId = Object.fromEntries(evaluateTargets(report).map((r) => [r.id, r]));
  assert.match(
    byId["pairs-vs-relay"].note!,
    /250% of the TLS relay with acks \(50,000 vs 20,000\)/,
  );
  report.relayTls.ackedPumped = traffic(25_000, 9, 0.08);
  const markdown = renderMarkdown({ ...report, targets: evaluateTargets(report) });
  assert.match(markdown, /raw TLS relay with acks, pairs, max/);
  assert.match(markdown, /raw TLS relay with acks behind a loopback pump, pairs, max/);
  // Without the acked run there is no such note.
  report.relayTls = { max: traffic(50_000, 6, 0.01) };
  const plain = Object.fromEntries(evaluateTargets(report).map((r) => [r.id, r]));
  assert.equal(plain["pairs-vs-relay"].note, undefined);
});

Deno.test("report: one paced TLS-relay floor row per accept mode's 50% rate; the client kind", () => {
  const report = sampleReport();
  report.config.clientWebSocket = "deno-nodelay";
  report.config.accept = "both";
  const paced = (rate: number) => ({ ...traffic(rate, 6, 0.05), targetPerSecond: rate });
  report.pairs!.half = { ...report.pairs!.half!, targetPerSecond: 30_000 };
  report.acceptModes = {
    accept: "direct",
    pairs: { max: traffic(80_000, 15, 0.01), half: paced(40_000) },
    handshake: null,
    idle: null,
  };
  report.relayTls = {
    max: traffic(50_000, 6, 0.01),
    acked: traffic(25_000, 9, 0.05),
    ackedPaced: [
      { accept: ["guarded"], phase: paced(30_000) },
      { accept: ["direct"], phase: paced(40_000) },
    ],
  };
  const targets = evaluateTargets(report);
  const markdown = renderMarkdown({
    ...report,
    targets,
    verdicts: judgeBudgets(report, targets),
  });
  assert.match(markdown, /\| raw TLS relay with acks, pairs, 50% of guarded \| 100 \| 30,000 \|/);
  assert.match(markdown, /\| raw TLS relay with acks, pairs, 50% of direct \| 100 \| 40,000 \|/);
  assert.match(markdown, /Client WebSocket: deno-nodelay\./);
  assert.match(markdown, /both at 40,000\/s/);
});

Deno.test("targets: thresholds are inclusive", () => {
  const report = sampleReport();
  report.pairs = {
    max: traffic(50_000, 5, 1000 / TARGETS.deliveredPerCpuSecond),
    half: traffic(25_000, TARGETS.p99AtHalfMs, 0.04),
  };
  report.idle!.bytesPerConnection = report.relayIdle!.bytesPerConnection +
    TARGETS.idleBytesAboveFloor;
  const byId = Object.fromEntries(evaluateTargets(report).map((r) => [r.id, r]));
  assert.equal(byId["pairs-vs-relay"].met, true);
  assert.equal(byId["delivered-per-cpu-second"].met, true);
  assert.equal(byId["idle-memory"].met, true);
  assert.equal(byId["p99-at-half"].met, true);
});

Deno.test("targets: a saturated client's rates are not taken as server figures", () => {
  const report = sampleReport();
  // The client used its whole core in the 1:1 max phase: judged per CPU-second
  // (20,000 vs the relay's 125,000 msg per CPU-s), not on the measured rates.
  report.pairs = {
    max: { ...traffic(60_000, 20, 0.05), clientSaturated: true },
    half: { ...traffic(30_000, 3, 0.05), clientSaturated: true },
  };
  report.relay = { max: traffic(100_000, 5, 0.008), half: null };
  report.handshake = { ...storm(1000), clientSaturated: true };
  const byId = Object.fromEntries(evaluateTargets(report).map((r) => [r.id, r]));
  assert.equal(byId["pairs-vs-relay"].value, 0.16);
  assert.equal(byId["pairs-vs-relay"].met, false);
  assert.match(byId["pairs-vs-relay"].note!, /client saturated/);
  assert.equal(byId["p99-at-half"].met, null);
  assert.match(byId["p99-at-half"].note!, /client saturated/);
  // 2 server CPU-ms per handshake: 500 per CPU-second against the 1,471/s bound.
  assert.equal(Math.round(byId["handshakes-vs-bound"].value! * 100), 34);
  assert.match(byId["handshakes-vs-bound"].note!, /per server CPU-second/);
});

Deno.test("targets: a phase that did not run is 'not measured', not a failure", () => {
  const report = sampleReport();
  report.relay = null;
  report.primitives = null;
  report.idle = null;
  report.relayIdle = null;
  report.pairs = { max: traffic(60_000, 20, null), half: null };
  const results = evaluateTargets(report);
  assert.deepEqual(results.map((r) => r.met), [null, null, null, null, null, null, null, null]);
  assert.ok(results.every((r) => r.measured === "not measured"));
});

Deno.test("targets: Shadowsocks bulk throughput is judged against direct TLS of the same run", () => {
  const report = sampleReport();
  const rate = (mbps: number, perCpu: number, clientCores: number) => ({
    bytesPerSecond: mbps * 1e6,
    seconds: 5,
    serverCpuSeconds: 1,
    bytesPerServerCpuSecond: perCpu * 1e6,
    clientCores,
  });
  const path = (transport: string, mbps: number, perCpu: number, clientCores: number) => ({
    transport,
    download: rate(mbps, perCpu, clientCores),
    messages: rate(1, 1, 0.1),
  });
  report.transports = {
    messageBytes: 16384,
    window: 32,
    fileBytes: 5 * 1024 * 1024,
    direct: path("direct", 40, 50, 0.5),
    shadowsocks: path("shadowsocks", 18, 45, 0.5),
  };
  const find = () => evaluateTargets(report).find((r) => r.id === "shadowsocks-vs-tls")!;
  assert.equal(find().met, false);
  assert.match(find().measured, /^45% \(18\.0 vs 40\.0 MB\/s\)$/);
  // A saturated client measured itself: judged per server CPU-second instead.
  report.transports.shadowsocks.download.clientCores = report.config.clientCoresAvailable ?? 64;
  assert.equal(find().met, true);
  assert.match(find().measured, /^90% per server CPU-second/);
});

Deno.test("targets: SFU CPU per voice frame is judged against the 1:1 message's", () => {
  const report = sampleReport();
  report.pairs = { max: traffic(60_000, 20, 40), half: null };
  report.sfu = { max: traffic(50_000, 20, 30) };
  const sfu = evaluateTargets(report).find((r) => r.id === "sfu-cpu-vs-pairs")!;
  assert.equal(sfu.met, true);
  assert.equal(sfu.value, 0.75);
  report.sfu = { max: traffic(50_000, 20, 48) };
  assert.equal(evaluateTargets(report).find((r) => r.id === "sfu-cpu-vs-pairs")!.met, false);
  const md = renderMarkdown({ ...report, targets: evaluateTargets(report) });
  assert.match(md, /\| CommuCat SFU voice pairs, max \|/);
  // serverCpuPer1000 is in CPU-seconds: the verdict shows CPU-milliseconds, as the 1:1 one does.
  report.pairs = { max: traffic(60_000, 20, 0.040), half: null };
  report.sfu = { max: traffic(50_000, 20, 0.030) };
  const shown = evaluateTargets(report).find((r) => r.id === "sfu-cpu-vs-pairs")!.measured;
  assert.equal(shown, "0.75× (30.0 vs 40.0 CPU-ms per 1,000)");
});

Deno.test("targets: cross-instance msg/s is judged against one instance of the same run", () => {
  const report = sampleReport();
  const find = () => evaluateTargets(report).find((r) => r.id === "cross-vs-single-instance")!;
  assert.equal(find().met, null, "not measured without the scenario");
  report.cluster = { skipped: "needs PostgreSQL and Redis" };
  assert.equal(find().met, null);
  assert.equal(find().note, "needs PostgreSQL and Redis");
  report.cluster = {
    single: traffic(10_000, 8, 0.05),
    cross: traffic(TARGETS.crossVsSingle * 10_000, 12, 0.08),
    busCarriedDelivered: 40_000,
    busQueueReads: 3,
  };
  assert.equal(find().met, true, "the threshold is inclusive");
  assert.match(
    find().measured,
    /^80% \(8,000 vs 10,000 msg\/s; server CPU-ms per 1,000 80\.0 vs 50\.0\)$/,
  );
  report.cluster.cross = traffic(1_800, 90, 0.2);
  assert.equal(find().met, false);
  assert.equal(find().value, 0.18);
  // A saturated client measured itself: per server CPU-second (12.5k vs 20k) instead.
  report.cluster.cross = { ...traffic(9_000, 12, 0.08), clientSaturated: true };
  assert.equal(find().value, 0.625);
  assert.match(find().note!, /client saturated/);
  // Pinned: rates only when both phases were server-bound, else per server CPU-second.
  report.config.pinning = { server: "0", client: "1" };
  report.cluster.single = { ...traffic(10_000, 8, 0.05), serverCores: 0.62 };
  report.cluster.cross = { ...traffic(13_000, 12, 0.08), serverCores: 0.96 };
  assert.equal(find().value, 0.625);
  assert.match(find().measured, /^63% per server CPU-second \(13,000 vs 10,000 msg\/s;/);
  assert.match(find().note!, /not server-bound: one instance 0\.62 of 1 server core/);
  assert.match(find().note!, /rates 130%/);
  report.cluster.single = { ...report.cluster.single, serverCores: 0.95 };
  assert.equal(find().value, 1.3);
  assert.equal(find().note, undefined);
  const md = renderMarkdown({ ...report, targets: evaluateTargets(report) });
  assert.match(md, /\| pairs, 2 instances, cross-instance, max \|/);
  assert.match(md, /carried on the bus 40,000, read from the queue instead 3/);
});

Deno.test("markdown: tables, verdicts and escaped cells", () => {
  const base = sampleReport();
  const md = renderMarkdown({ ...base, targets: evaluateTargets(base) });
  assert.match(md, /^## CommuCat load run 2026-11-24 \(abc1234\)/);
  assert.match(md, /\| CommuCat pairs, max \| 100 \| max \| 60,000 \|/);
  assert.match(md, /\| 60% \(60,000 vs 100,000 msg\/s\) \| met \|/);
  assert.match(md, /NOT met/);
  assert.match(md, /1,471 \/s per core/);
  assert.match(md, /\n- a note \| with a pipe\n/);
  assert.equal(table(["a", "b"], [["1", "x|y"]]), "| a | b |\n| --- | --- |\n| 1 | x\\|y |");
});

Deno.test("number formatting", () => {
  assert.equal(num(1234567.891, 1), "1,234,567.9");
  assert.equal(num(null), "–");
  assert.equal(num(NaN), "–");
  assert.equal(ms(0.1234), "0.123 ms");
  assert.equal(ms(4.567), "4.57 ms");
  assert.equal(ms(123.45), "123.5 ms");
});

Deno.test("SVG chart: one path and legend entry per series, escaped names, log axis", () => {
  const h = new LatencyHistogram();
  for (const v of [0.3, 0.5, 2, 8, 40]) h.record(v);
  const svg = renderLatencySvg([
    { name: "raw <relay>", points: h.cdf() },
    { name: "CommuCat & co", points: h.cdf() },
    { name: "empty", points: [] },
  ]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(svg.match(/<path /g)?.length, 2);
  assert.match(svg, /raw &lt;relay&gt;/);
  assert.match(svg, /CommuCat &amp; co/);
  for (const label of ["0.1 ms", "1 ms", "10 ms", "100 ms"]) assert.ok(svg.includes(`>${label}<`));
  assert.ok(svg.trim().endsWith("</svg>"));
});

Deno.test("perf report parsing keeps dso names with spaces and drops IPC columns", () => {
  const text = [
    "# Overhead  Shared Object  Symbol",
    "     9.85%  libc.so.6          [.] _int_malloc                       -      -            ",
    "     0.96%  [JIT] tid 9857     [.] JS:*'#sendEncrypted file:///x/connection.ts:367:17  -  -  ",
    "     1.81%  [kernel.kallsyms]  [k] _raw_spin_unlock_irqrestore",
    "",
  ].join("\n");
  assert.deepEqual(parsePerfReport(text), [
    { percent: 9.85, dso: "libc.so.6", symbol: "_int_malloc" },
    {
      percent: 0.96,
      dso: "[JIT] tid 9857",
      symbol: "JS:*'#sendEncrypted file:///x/connection.ts:367:17",
    },
    { percent: 1.81, dso: "[kernel.kallsyms]", symbol: "_raw_spin_unlock_irqrestore" },
  ]);
  assert.equal(parsePerfReport(text, 1).length, 1);
});

Deno.test("report: server CPU per hybrid ÷ classical handshake, for pairs that both ran", () => {
  const storm = (ms: number | null) => ({
    count: 1,
    ok: 1,
    failed: 0,
    concurrency: 1,
    seconds: 1,
    perSecond: 1,
    latency: { count: 1, mean: 1, min: 1, p50: 1, p95: 1, p99: 1, max: 1 },
    serverCpuSeconds: ms === null ? null : ms / 1000,
    serverCpuMsPerHandshake: ms,
    clientCores: 0,
  });
  assert.deepEqual(
    hybridCpuRatios([
      { pattern: "XK", storm: storm(2) },
      { pattern: "XKhfs", storm: storm(3) },
      { pattern: "IKhfs", storm: storm(4) }, // IK did not run
      { pattern: "IK", storm: storm(null) },
    ]),
    ["XKhfs/XK 1.50×"],
  );
});

Deno.test("report: the rate-limited phase states its pacing and how late its sends were", () => {
  const half = traffic(5_000, 8, 100);
  half.targetPerSecond = 5_000;
  const lateness = new LatencyHistogram();
  lateness.record(0.5);
  lateness.record(3);
  half.sendLateness = lateness.summary();
  const note = pacingNote([half]);
  assert.match(note, /even intervals/);
  assert.match(note, /staggered/);
  assert.match(note, /5,000\/s: p50 /);
  assert.match(note, /max 3\.00 ms/);
  const unrecorded = traffic(5_000, 8, 100);
  unrecorded.targetPerSecond = 5_000;
  assert.match(pacingNote([unrecorded]), /not recorded/);
});

Deno.test("report: run-queue waits are stated per phase, or not at all", () => {
  const max = traffic(10_000, 80, 100);
  max.serverRunQueueWait = 0.0125;
  max.clientRunQueueWait = 0.2;
  const half = traffic(5_000, 8, 100);
  half.serverRunQueueWait = 0.001;
  const note = runQueueNote([["pairs, max", max], ["pairs, 50%", half], ["relay", undefined]]);
  assert.match(note ?? "", /pairs, max: server 12\.5 ms\/s, client 200\.0 ms\/s/);
  assert.match(note ?? "", /pairs, 50%: server 1\.0 ms\/s, client –\./);
  assert.doesNotMatch(note ?? "", /relay/);
  assert.equal(runQueueNote([["pairs, max", traffic(1, 1, 1)]]), null);
});

Deno.test("targets: a contended 50% phase keeps its verdict and says its cores were shared", () => {
  const report = sampleReport();
  report.pairs = {
    max: traffic(10_000, 80, 0.1),
    half: { ...traffic(5_000, 40, 0.15), serverRunQueueWait: 0.2, clientRunQueueWait: 0.01 },
  };
  const byId = Object.fromEntries(evaluateTargets(report).map((r) => [r.id, r]));
  assert.equal(byId["p99-at-half"].met, false);
  assert.match(byId["p99-at-half"].note!, /contended: .*server 200 ms\/s, client 10 ms\/s/);
  // Below the threshold on both sides: no note.
  report.pairs.half = { ...traffic(5_000, 40, 0.15), serverRunQueueWait: 0.001 };
  const quiet = Object.fromEntries(evaluateTargets(report).map((r) => [r.id, r]));
  assert.equal(quiet["p99-at-half"].note, undefined);
});

Deno.test("report: --accept both puts guarded and direct side by side with their ratios", () => {
  const base = sampleReport();
  const report: LoadReport = {
    ...base,
    acceptModes: {
      accept: "direct",
      pairs: { max: traffic(20_000, 5, 0.025), half: traffic(10_000, 2, 0.03) },
      handshake: storm(300),
      idle: null,
    },
    targets: [],
  };
  const md = renderMarkdown(report);
  assert.match(md, /### Accept modes \(server\.accept\): guarded vs direct/);
  assert.match(md, /\| pairs max: delivered msg\/s \| [\d,]+ \| 20,000 \| [\d.]+× \|/);
  assert.match(md, /\| handshakes\/s \| [\d,]+ \| 300 \|/);
  assert.doesNotMatch(md, /at guarded's 50%/, "no such phase, no row");
  // The direct server paced at the guarded 50% phase's rate: both columns at one rate.
  const rate = report.pairs!.half!.deliveredPerSecond;
  report.pairs!.half = { ...report.pairs!.half!, targetPerSecond: rate };
  report.acceptModes!.pairs!.atGuardedHalf = {
    ...traffic(rate, 3, 0.02),
    targetPerSecond: rate,
    serverRunQueueWait: 0.1,
  };
  const same = renderMarkdown(report);
  const label = `pairs at guarded's 50% \\(${num(rate)}\\/s, both\\)`;
  assert.match(
    same,
    new RegExp(`\\| ${label}: server CPU-ms per 1,000 \\| [\\d.]+ \\| 20\\.0 \\|`),
  );
  assert.match(
    same,
    /direct accept, pairs, at guarded's 50%: server 100\.0 ms\/s/,
    "its wait noted",
  );
  assert.doesNotMatch(
    renderMarkdown({ ...base, targets: [] }),
    /Accept modes/,
    "no section without --accept both",
  );
});

Deno.test("report: the 1:1 phases state the share of copies the server wrote", () => {
  const report = sampleReport();
  report.pairs!.max.keptCopies = { written: 250, acknowledgedInWindow: 750, writtenShare: 0.25 };
  const md = renderMarkdown({ ...report, targets: evaluateTargets(report) });
  assert.match(md, /Durable-copy window .*CommuCat pairs, max: 25\.0% written \(250 written/);
  assert.doesNotMatch(md, /CommuCat pairs, 50%: .* written/, "no figure, no claim");
});

Deno.test("multipathNote gives the rate and the per-CPU-second ratios and names a saturated client", () => {
  const single = traffic(10_000, 50, 80);
  const note = multipathNote(
    { paths: "websocket+binary+sse", max: traffic(5_000, 50, 100) },
    single,
  );
  assert.match(note, /delivered 50% of the single-path pairs' rate/);
  assert.match(note, /per server CPU-second 80%/);
  assert.match(note, /Client cores: 0\.80 multipath, 0\.80 single/);
  const saturated = { ...traffic(5_000, 50, 100), clientSaturated: true };
  assert.match(
    multipathNote({ paths: "websocket+binary+sse", max: saturated }, single),
    /client was saturated in the multipath phase/,
  );
});

Deno.test("report: the pumped idle floor has its row, and guarded's excess over both floors is shown", () => {
  const report = sampleReport();
  report.config.accept = "both";
  report.relayIdlePumped = {
    connections: 2000,
    baselineRssBytes: 60 << 20,
    loadedRssBytes: (60 << 20) + 2000 * 18 * 1024,
    bytesPerConnection: 18 * 1024,
    openSeconds: 3,
  };
  report.acceptModes = {
    accept: "direct",
    pairs: null,
    handshake: null,
    idle: { ...report.idle!, bytesPerConnection: 12 * 1024 },
  };
  const targets = evaluateTargets(report);
  const markdown = renderMarkdown({ ...report, targets, verdicts: judgeBudgets(report, targets) });
  assert.match(
    markdown,
    /\| raw TLS relay behind a loopback pump \(guarded's floor\) \| 2,000 \| 60\.0 MiB \| [\d.]+ MiB \| 18\.0 KiB \|/,
  );
  // Accept modes: guarded over the plain floor (14) and over the pumped one (18); direct below.
  assert.match(markdown, /\| … over the floor \(14\.0 KiB\) \| \+6\.0 \| −2\.0 \| +\|/);
  assert.match(markdown, /\| … over the pumped floor \(18\.0 KiB\) \| \+2\.0 \| – \| +\|/);
  // The targets row (the words) stays on the plain floor and names the pumped one beside it.
  const idleTarget = targets.find((t) => t.id === "idle-memory")!;
  assert.match(
    idleTarget.measured,
    /floor 14\.0 KiB: \+6\.0 KiB; behind a loopback pump \(guarded's floor\) 18\.0 KiB: \+2\.0 KiB/,
  );
});
