import assert from "node:assert/strict";
import type { AcceptModeSummary } from "./accept_modes.ts";
import type { LoadReport, TrafficSummary } from "./report_types.ts";
import { parseOpenFilesLimit } from "./procfs.ts";
import { pacedFloorAt } from "./paced_floor.ts";
import { LatencyHistogram } from "./stats.ts";
import { evaluateTargets } from "./targets.ts";
import { formatFigure, renderVerdicts } from "./verdict_table.ts";
import {
  handshakeCeiling,
  idleConnectionCap,
  judge,
  judgeBudgets,
  perCpuWithoutFloor,
  relayShareWithoutFloor,
  type VerdictRow,
} from "./verdicts.ts";

type Report = Omit<LoadReport, "targets">;

/** A phase delivering `perCpu` msg per server CPU-second with the given p99 (ms). */
function phase(perCpu: number | null, p99 = 5, targetPerSecond: number | null = null) {
  const latency = new LatencyHistogram();
  latency.record(p99);
  return {
    connections: 100,
    fanout: 1,
    targetPerSecond,
    deliveredPerSecond: 20_000,
    sentPerSecond: 20_000,
    latency: { ...latency.summary(), p99 },
    cdf: [],
    missing: 0,
    sendErrors: 0,
    serverCpuSeconds: perCpu === null ? null : 100_000 / perCpu,
    serverCpuPer1000: perCpu === null ? null : 1000 / perCpu,
    deliveredPerServerCpuSecond: perCpu,
    clientCores: 0.5,
  } satisfies TrafficSummary;
}

const idle = (kib: number, connections = 10_000) => ({
  connections,
  baselineRssBytes: 0,
  loadedRssBytes: kib * 1024 * connections,
  bytesPerConnection: kib * 1024,
  openSeconds: 1,
});

/** Nothing measured: every phase null. */
function emptyReport(): Report {
  return {
    date: "2026-12-05",
    commit: null,
    machine: { cpu: "x", cores: 2, kernel: "linux", deno: "2", loadAverage: "0" },
    config: {
      scenarios: [],
      mode: "websocket",
      pattern: "XK",
      workers: 0,
      pairs: 50,
      groups: 1,
      groupSize: 2,
      handshakes: 0,
      concurrency: 1,
      idleConnections: 0,
      warmupSeconds: 1,
      durationSeconds: 1,
      window: 8,
      target: "spawned",
      accept: "direct",
    },
    clientSide: "one process",
    primitives: null,
    relay: null,
    relayTls: null,
    pairs: null,
    fanout: null,
    handshake: null,
    reconnect: null,
    idle: null,
    profiles: [],
    notes: [],
  };
}

/** The figures {@link report} is made of. */
interface Figures {
  ours: number;
  floor: number;
  oursP99: number;
  floorP99: number;
  hsMs: number;
  connectMs: number;
  idleKiB: number;
}

/** Floors with room, ours missing every budget (most tests start from it and change one thing). */
const ROOMY: Figures = {
  ours: 30_000,
  floor: 70_000,
  oursP99: 30,
  floorP99: 4,
  hsMs: 4,
  connectMs: 0.3,
  idleKiB: 18,
};

/**
 * Relay 100,000 msg/CPU-s; the TLS relay with acks `floor`; ours `ours`
 * (p99s `oursP99`, `floorP99` at 50%); bound 1,000 handshakes/s; connect
 * floor `connectMs`; ours `hsMs` per handshake; idle KiB ours vs 14 floor.
 * Figures not given are {@link ROOMY}'s.
 */
function report(figures: Partial<Figures> = {}): Report {
  const o = { ...ROOMY, ...figures };
  return {
    ...emptyReport(),
    primitives: {
      x25519DhUs: 100,
      zkpVerifyUs: 500,
      certificateIssueUs: 200,
      handshakeUs: 1000,
      handshakesPerCoreSecond: 1000,
    },
    relay: { max: phase(100_000), half: null },
    relayTls: {
      max: phase(80_000),
      acked: phase(o.floor),
      ackedPaced: [{ accept: ["guarded"], phase: phase(o.floor, o.floorP99, 5_000) }],
    },
    pairs: { max: phase(o.ours), half: phase(o.ours, o.oursP99, 5_000) },
    handshake: {
      count: 100,
      ok: 100,
      failed: 0,
      concurrency: 8,
      seconds: 1,
      perSecond: 100,
      latency: new LatencyHistogram().summary(),
      serverCpuSeconds: o.hsMs / 10,
      serverCpuMsPerHandshake: o.hsMs,
      clientCores: 0.5,
    },
    relayConnect: {
      count: 100,
      ok: 100,
      failed: 0,
      seconds: 1,
      perSecond: 100,
      latency: new LatencyHistogram().summary(),
      relayCpuSeconds: o.connectMs / 10,
      relayCpuMsPerConnection: o.connectMs,
    },
    idle: { ...idle(o.idleKiB), openFilesLimit: 65_536 },
    relayIdle: idle(14),
  };
}

/** `r` as `--accept both` reports it: guarded in the main phases, direct's `modes` beside them. */
function alsoDirect(r: Report, modes: Partial<AcceptModeSummary>): void {
  r.config.accept = "both";
  r.acceptModes = { accept: "direct", pairs: null, handshake: null, idle: null, ...modes };
}

const verdicts = (r: Report) => {
  const rows = judgeBudgets(r, evaluateTargets(r));
  return Object.fromEntries(rows.map((row) => [row.id, row])) as Record<string, VerdictRow>;
};
const close = (a: number | undefined, b: number) =>
  assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

Deno.test("verdicts: judge tells each category apart", () => {
  const atLeastHalf = (v: number) => v >= 0.5;
  assert.equal(judge(null, 0.9, atLeastHalf), "not measured");
  assert.equal(judge(0.5, 0.4, atLeastHalf), "met");
  assert.equal(judge(0.3, 0.45, atLeastHalf), "stopped by floor");
  assert.equal(judge(0.3, 0.7, atLeastHalf), "not met: ours");
  // No floor measured: nothing to blame but ours.
  assert.equal(judge(0.3, null, atLeastHalf), "not met: ours");
});

Deno.test("verdicts: the formulas", () => {
  // Ours 40 µs/msg, floor 20: 20 µs of ours = 50,000 per CPU-s.
  close(perCpuWithoutFloor(25_000, 50_000)!, 50_000);
  assert.equal(perCpuWithoutFloor(50_000, 40_000), null);
  // Relay 10 µs, ours 40, floor 20: 10 / (10 + 20).
  close(relayShareWithoutFloor(25_000, 50_000, 100_000), 1 / 3);
  assert.equal(relayShareWithoutFloor(60_000, 50_000, 100_000), 1);
  // Bound 1 ms per handshake, floor 0.5 ms: 1 / 1.5.
  close(handshakeCeiling(1000, 0.5), 2 / 3);
  assert.equal(idleConnectionCap(20_000, "guarded"), 6_333);
  assert.equal(idleConnectionCap(20_000, undefined), 6_333);
  assert.equal(idleConnectionCap(20_000, "direct"), 19_000);
  assert.equal(idleConnectionCap(500, "guarded"), 0);
});

Deno.test("verdicts: floors too low for the budget stop it", () => {
  const byId = verdicts(
    report({ floor: 35_000, floorP99: 12, connectMs: 1, idleKiB: 20 }),
  );
  const pairs = byId["pairs-vs-relay"];
  assert.equal(pairs.verdict, "stopped by floor");
  close(pairs.ours?.value, 0.3);
  close(pairs.ceiling?.value, 0.35);
  assert.deepEqual(pairs.floor, { value: 35_000, unit: "msg/CPU-s" });
  // Relay 10 µs, ours 33.3, floor 28.6: 10 / (10 + 4.76).
  close(pairs.withoutFloor?.value, 10 / (10 + 1e6 / 30_000 - 1e6 / 35_000));
  const perCpu = byId["delivered-per-cpu-second"];
  assert.equal(perCpu.verdict, "stopped by floor");
  close(perCpu.withoutFloor?.value, 1e6 / (1e6 / 30_000 - 1e6 / 35_000));
  assert.match(perCpu.note!, /the floor itself is below 40,000/);
  assert.match(perCpu.note!, /floor = TLS relay with acks; ours 86% of it/);
  // Bound 1 ms + floor 1 ms: ceiling 50% < 60%; ours 1/4; without floor 1/3.
  const hs = byId["handshakes-vs-bound"];
  assert.equal(hs.verdict, "stopped by floor");
  close(hs.ours?.value, 0.25);
  close(hs.ceiling?.value, 0.5);
  close(hs.withoutFloor?.value, 1 / 3);
  const p99 = byId["p99-at-half"];
  assert.equal(p99.verdict, "stopped by floor");
  assert.deepEqual([p99.ours?.value, p99.floor?.value], [30, 12]);
  assert.equal(p99.withoutFloor, null);
  assert.match(p99.note!, /percentiles do not subtract/);
  // The memory budget is relative to its floor: never stopped by it.
  const memory = byId["idle-memory"];
  assert.equal(memory.verdict, "not met: ours");
  assert.equal(memory.withoutFloor?.value, 6 * 1024);
});

Deno.test("verdicts: floors with room leave the miss to ours, or the budget is met", () => {
  const missed = verdicts(
    report({ idleKiB: 18.5 }),
  );
  for (const id of ["pairs-vs-relay", "delivered-per-cpu-second", "handshakes-vs-bound"]) {
    assert.equal(missed[id].verdict, "not met: ours", id);
  }
  assert.equal(missed["p99-at-half"].verdict, "not met: ours");
  assert.equal(missed["idle-memory"].verdict, "not met: ours");
  const met = verdicts(
    report({ ours: 50_000, oursP99: 10, hsMs: 1.6 }),
  );
  for (
    const id of [
      "pairs-vs-relay",
      "delivered-per-cpu-second",
      "handshakes-vs-bound",
      "p99-at-half",
      "idle-memory",
    ]
  ) assert.equal(met[id].verdict, "met", id);
});

Deno.test("verdicts: a phase or floor not measured is said so", () => {
  const none = judgeBudgets(emptyReport(), evaluateTargets(emptyReport()));
  assert.ok(none.length > 0);
  assert.ok(none.every((r) => r.verdict === "not measured"), JSON.stringify(none));
  assert.ok(none.every((r) => r.ours === null && r.withoutFloor === null));
  // Ours without floors (no --tls-baseline, --no-baseline idle floor).
  const r = report();
  r.relayTls = null;
  r.relayIdle = null;
  r.pairs!.half = { ...r.pairs!.half!, clientSaturated: true };
  const byId = verdicts(r);
  assert.equal(byId["pairs-vs-relay"].verdict, "not met: ours");
  assert.equal(byId["pairs-vs-relay"].ceiling, null);
  assert.match(byId["pairs-vs-relay"].note!, /no floor measured/);
  assert.equal(byId["delivered-per-cpu-second"].withoutFloor, null);
  assert.equal(byId["idle-memory"].verdict, "not measured");
  assert.match(byId["idle-memory"].note!, /no floor measured/);
  assert.equal(byId["p99-at-half"].verdict, "not measured");
  assert.match(byId["p99-at-half"].note!, /client saturated/);
});

Deno.test("verdicts: an open-files limit below 10,000 guarded connections is said", () => {
  const r = report();
  r.config.accept = "guarded";
  r.idle = { ...idle(18, 6_000), openFilesLimit: 20_000 };
  const note = verdicts(r)["idle-memory"].note!;
  assert.match(note, /at 6,000 connections \(budget: 10,000\)/);
  assert.match(note, /open-files limit 20,000 holds at most 6,333 guarded/);
  // Direct mode: one file each, 19,000 fit.
  r.config.accept = "direct";
  assert.doesNotMatch(verdicts(r)["idle-memory"].note!, /open-files/);
  assert.equal(
    parseOpenFilesLimit(
      "Max processes             1024     1024     processes\n" +
        "Max open files            20000                20000                files     \n",
    ),
    20_000,
  );
  assert.equal(parseOpenFilesLimit("Max open files  unlimited  unlimited  files\n"), null);
});

Deno.test("verdicts: --accept both judges both servers; budgets without floors are met or not", () => {
  const r = report();
  alsoDirect(r, { pairs: { max: phase(45_000), half: phase(45_000, 8, 7_000) } });
  r.multipath = {
    paths: "websocket+binary+sse",
    max: { ...phase(20_000), deliveredPerSecond: 13_000 },
  };
  const rows = judgeBudgets(r, evaluateTargets(r));
  const perCpu = rows.filter((row) => row.id === "delivered-per-cpu-second");
  assert.deepEqual(perCpu.map((row) => [row.budget.endsWith("(guarded)"), row.verdict]), [
    [true, "not met: ours"],
    [false, "met"],
  ]);
  assert.match(perCpu[1].budget, /\(direct\)$/);
  const multipath = rows.find((row) => row.id === "multipath-vs-pairs")!;
  close(multipath.ours?.value, 0.65);
  assert.equal(multipath.verdict, "not met: ours");
  assert.equal(rows.find((row) => row.id === "cross-vs-single-instance")!.verdict, "not measured");
});

Deno.test("verdicts: the markdown table has one row per budget, figures in their units", () => {
  const r = report({ floor: 35_000, floorP99: 12, connectMs: 1, idleKiB: 20 });
  const targets = evaluateTargets(r);
  const rows = judgeBudgets(r, targets);
  const md = renderVerdicts(rows, targets).join("\n");
  assert.match(md, /\| budget \| ours \| floor \| ceiling \| without floor \| verdict \|/);
  assert.match(md, /\| 30\.0% \| 35,000 msg\/CPU-s \| 35\.0% \| .* \| stopped by floor \|/);
  assert.match(md, /### Targets/);
  assert.equal(formatFigure({ value: 6144, unit: "bytes" }), "6.0 KiB");
  assert.equal(formatFigure({ value: 1.5, unit: "ratio" }), "1.50×");
  assert.equal(formatFigure(null), "–");
});

Deno.test("verdicts: each accept mode's p99 is put against the floor paced at its own rate", () => {
  const r = report({ floorP99: 12 });
  alsoDirect(r, { pairs: { max: phase(45_000), half: phase(45_000, 8, 7_000) } });
  // Only the guarded rate's floor: direct has none at its rate (not the guarded one's).
  let p99 = judgeBudgets(r, evaluateTargets(r)).filter((row) => row.id === "p99-at-half");
  assert.deepEqual(p99.map((row) => row.floor?.value ?? null), [12, null]);
  assert.match(p99[0].note!, /ours and the floor \(TLS relay with acks\) both at 5,000\/s/);
  assert.match(p99[1].note!, /no floor measured at this mode's rate \(7,000\/s\)/);
  assert.equal(p99[1].verdict, "met");
  // With the direct rate's floor each row has its own.
  r.relayTls!.ackedPaced!.push({ accept: ["direct"], phase: phase(70_000, 6, 7_000) });
  r.acceptModes!.pairs!.half = phase(45_000, 15, 7_000);
  p99 = judgeBudgets(r, evaluateTargets(r)).filter((row) => row.id === "p99-at-half");
  assert.deepEqual(p99.map((row) => [row.ours?.value, row.floor?.value, row.verdict]), [
    [30, 12, "stopped by floor"],
    [15, 6, "not met: ours"],
  ]);
  assert.match(p99[1].note!, /both at 7,000\/s/);
  assert.doesNotMatch(p99[1].note!, /Nagle/);
  // A Nagle client: the note says both tails have it.
  r.config.clientWebSocket = "deno";
  assert.match(verdicts(r)["p99-at-half"].note!, /client's Nagle/);
});

Deno.test("verdicts: an older report's single paced floor (ackedHalf) is read at its rate", () => {
  const r = report({ floorP99: 12 });
  r.relayTls = { ...r.relayTls!, ackedPaced: undefined, ackedHalf: phase(70_000, 12, 5_000) };
  assert.equal(verdicts(r)["p99-at-half"].floor?.value, 12);
  assert.equal(pacedFloorAt(r.relayTls, 6_000), null);
});

Deno.test("verdicts: a guarded server's 1:1 floor is the relay behind the loopback pump", () => {
  const r = report();
  r.relayTls!.ackedPumped = phase(35_000);
  alsoDirect(r, { pairs: { max: phase(30_000), half: null } });
  const rows = judgeBudgets(r, evaluateTargets(r));
  for (const id of ["pairs-vs-relay", "delivered-per-cpu-second"]) {
    const [guarded, direct] = rows.filter((row) => row.id === id);
    assert.match(guarded.budget, /\(guarded\)$/);
    assert.match(guarded.note!, /behind a loopback pump \(guarded's floor\)/);
    assert.equal(guarded.verdict, "stopped by floor", id);
    // The direct server has no pump: its floor stays the TLS relay with acks.
    assert.match(direct.note!, /floor = TLS relay with acks;/);
    assert.equal(direct.verdict, "not met: ours", id);
  }
  const [guarded, direct] = rows.filter((row) => row.id === "delivered-per-cpu-second");
  assert.deepEqual([guarded.floor?.value, direct.floor?.value], [35_000, 70_000]);
  close(guarded.withoutFloor?.value, 1e6 / (1e6 / 30_000 - 1e6 / 35_000));
  // Without the pumped floor a guarded row says its pump counts as ours.
  delete r.relayTls!.ackedPumped;
  const old = judgeBudgets(r, evaluateTargets(r)).find((row) => row.id === "pairs-vs-relay")!;
  assert.match(old.note!, /no pumped floor measured: the loopback pump counts as ours/);
});

Deno.test("verdicts: a guarded server's handshakes are put against the pumped connect floor", () => {
  // Bound 1 ms per handshake; ours 2.5 ms; floor 0.5 ms plain, 1.0 ms behind the pump.
  const r = report({ hsMs: 2.5, connectMs: 0.5 });
  r.relayConnectPumped = { ...r.relayConnect!, relayCpuMsPerConnection: 1 };
  alsoDirect(r, { handshake: { ...r.handshake!, serverCpuMsPerHandshake: 2.5 } });
  const rows = judgeBudgets(r, evaluateTargets(r)).filter((row) =>
    row.id === "handshakes-vs-bound"
  );
  assert.equal(rows.length, 2);
  const [guarded, direct] = rows;
  assert.match(guarded.budget, /\(guarded\)$/);
  close(guarded.floor?.value, 1);
  close(guarded.ceiling?.value, 1 / 2);
  assert.match(guarded.note!, /behind a loopback pump/);
  close(direct.floor?.value, 0.5);
  close(direct.ceiling?.value, 1 / 1.5);
  assert.doesNotMatch(direct.note!, /pump/);
  // Without a pumped floor, guarded's is the plain one and the note says the pump counts as ours.
  delete r.relayConnectPumped;
  const plain = judgeBudgets(r, evaluateTargets(r)).find((row) =>
    row.id === "handshakes-vs-bound"
  )!;
  close(plain.floor?.value, 0.5);
  assert.match(plain.note!, /the loopback pump counts as ours/);
});

Deno.test("verdicts: a guarded server's idle memory is put against the pumped floor, the plain one beside it", () => {
  // Ours 20 KiB guarded, 15 KiB direct; the relay holds 14 KiB, 17 KiB behind the pump.
  const r = report({ idleKiB: 20 });
  r.relayIdlePumped = idle(17);
  alsoDirect(r, { idle: idle(15) });
  const rows = judgeBudgets(r, evaluateTargets(r)).filter((row) => row.id === "idle-memory");
  assert.equal(rows.length, 2);
  const [guarded, direct] = rows;
  assert.match(guarded.budget, /\(guarded\)$/);
  close(guarded.floor?.value, 17 * 1024);
  close(guarded.withoutFloor?.value, 3 * 1024);
  assert.equal(guarded.verdict, "met");
  assert.match(guarded.note!, /floor = raw TLS relay behind a loopback pump \(guarded's floor\)/);
  // The difference against the relay without the pump is printed, not hidden.
  assert.match(guarded.note!, /without the pump \(14\.0 KiB\): \+6\.0 KiB/);
  assert.match(guarded.note!, /the pump adds \+3\.0 KiB to the floor/);
  // The direct server has no pump: the plain relay is its floor.
  close(direct.floor?.value, 14 * 1024);
  assert.doesNotMatch(direct.note!, /pump/);
  // Without the pumped floor, guarded's is the plain one and the pump counts as ours.
  delete r.relayIdlePumped;
  const plain = judgeBudgets(r, evaluateTargets(r)).find((row) => row.id === "idle-memory")!;
  close(plain.floor?.value, 14 * 1024);
  assert.equal(plain.verdict, "not met: ours");
  assert.match(plain.note!, /the loopback pump counts as ours/);
});
