/**
 * Renders a load report: a markdown summary for stdout (and for pasting into
 * docs/PERFORMANCE.md). The number formatting is in format.ts and the SVG
 * latency chart in latency_chart.ts (both re-exported here).
 *
 * @module
 */
import { renderAcceptModes } from "./accept_modes.ts";
import type { IdleSummary, LoadReport, StormSummary, TrafficSummary } from "./report_types.ts";
import type { ConnectFloorSummary } from "./connect_floor.ts";
import { ms, num, table } from "./format.ts";
import { keptCopiesNote } from "./kept_copies.ts";
import { delaySplitNote } from "./server_delay.ts";
import { pacedFloorLabel, pacedFloors } from "./paced_floor.ts";
import { renderVerdicts } from "./verdict_table.ts";

export { ms, num, table } from "./format.ts";
export { type ChartSeries, renderLatencySvg } from "./latency_chart.ts";

function trafficRow(name: string, t: TrafficSummary): string[] {
  return [
    name,
    num(t.connections),
    t.targetPerSecond === null ? "max" : num(t.targetPerSecond),
    num(t.deliveredPerSecond),
    ms(t.latency.p50),
    ms(t.latency.p95),
    ms(t.latency.p99),
    t.serverCpuPer1000 === null ? "–" : `${num(t.serverCpuPer1000 * 1000, 1)} ms`,
    num(t.deliveredPerServerCpuSecond),
    num(t.serverCores, 2),
    num(t.clientCores, 2) + (t.clientSaturated ? " (saturated)" : ""),
    `${num(t.missing)}/${num(t.sendErrors)}`,
  ];
}

function stormRow(name: string, s: StormSummary): string[] {
  return [
    name,
    `${num(s.ok)}/${num(s.count)}`,
    num(s.concurrency),
    num(s.perSecond, 1),
    ms(s.latency.p50),
    ms(s.latency.p99),
    s.serverCpuMsPerHandshake === null ? "–" : `${num(s.serverCpuMsPerHandshake, 2)} ms`,
    num(s.serverCores, 2),
    num(s.clientCores, 2) + (s.clientSaturated ? " (saturated)" : ""),
  ];
}

/** How the rate-limited ("50%") phases paced their sends, and how late the sends were. */
export function pacingNote(phases: TrafficSummary[]): string {
  const lateness = phases.map((t) =>
    t.sendLateness
      ? `${num(t.targetPerSecond)}/s: p50 ${ms(t.sendLateness.p50)}, p99 ${
        ms(t.sendLateness.p99)
      }, max ${ms(t.sendLateness.max)}`
      : `${num(t.targetPerSecond)}/s: not recorded`
  );
  return "Pacing of the rate-limited phases: each sender sends at even intervals " +
    "(connections ÷ rate), the senders' schedules staggered evenly across one interval, so " +
    "the sends form one evenly spaced stream; a 1 ms timer sends what fell due. Latency " +
    "counts from the actual send. Sends left after their scheduled time by " +
    `${lateness.join("; ")}.`;
}

/**
 * How long the server's and the client's event loops waited for their cores
 * (runnable while another task ran there), per second of each phase; null
 * when no phase has the figure. Waits of tens of ms per second mean other
 * tenants of the cores added latency that is neither side's own work.
 */
export function runQueueNote(
  phases: [string, TrafficSummary | null | undefined][],
): string | null {
  const perSecond = (v: number | undefined) => v === undefined ? "–" : `${num(v * 1000, 1)} ms/s`;
  const parts = phases.flatMap(([name, t]) =>
    t && (t.serverRunQueueWait !== undefined || t.clientRunQueueWait !== undefined)
      ? [
        `${name}: server ${perSecond(t.serverRunQueueWait)}, client ${
          perSecond(t.clientRunQueueWait)
        }`,
      ]
      : []
  );
  if (parts.length === 0) return null;
  return "Run-queue wait (event loop runnable while another task held its core, " +
    `/proc/<pid>/schedstat) per second: ${parts.join("; ")}.`;
}

/**
 * The multipath ratio, and what it depends on: the rate ratio follows
 * whichever phase the other tenants slowed more, the ratio per server
 * CPU-second does not; a phase with a saturated client measured the client.
 */
export function multipathNote(
  multipath: { paths: string; max: TrafficSummary },
  single: TrafficSummary,
): string {
  const m = multipath.max;
  const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
  let text = `Multipath (${multipath.paths}) delivered ` +
    `${pct(m.deliveredPerSecond / single.deliveredPerSecond)} of the single-path pairs' rate ` +
    "in this run (target ≥ 70%)";
  if (m.deliveredPerServerCpuSecond && single.deliveredPerServerCpuSecond) {
    text += `; per server CPU-second ${
      pct(m.deliveredPerServerCpuSecond / single.deliveredPerServerCpuSecond)
    } (the rate ratio a server-bound run would show)`;
  }
  const busy = [["multipath", m], ["single-path", single]] as const;
  const saturated = busy.filter(([, t]) => t.clientSaturated).map(([name]) => name);
  text += saturated.length > 0
    ? `. The client was saturated in the ${saturated.join(" and ")} phase: that rate measured ` +
      "the load generator."
    : `. Client cores: ${num(m.clientCores, 2)} multipath, ${num(single.clientCores, 2)} single.`;
  return text;
}

/** The markdown summary of a run. */
export function renderMarkdown(report: LoadReport): string {
  const c = report.config;
  const out: string[] = [];
  out.push(`## CommuCat load run ${report.date}${report.commit ? ` (${report.commit})` : ""}`);
  out.push("");
  out.push(
    `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.kernel}, ` +
      `Deno ${report.machine.deno}, load average ${report.machine.loadAverage}. ` +
      `Target: ${c.target}. Mode ${c.mode}, ${c.pattern}. Client: ${report.clientSide}. ` +
      `Warm-up ${c.warmupSeconds} s, measured ${c.durationSeconds} s per phase, window ${c.window}.` +
      (c.clientWebSocket ? ` Client WebSocket: ${c.clientWebSocket}.` : "") +
      (c.serverV8Flags?.length ? ` Server V8 flags: ${c.serverV8Flags.join(",")}.` : ""),
  );
  out.push(
    "",
    c.pinning
      ? `Pinned (taskset): server and relay on core(s) ${c.pinning.server}, client on core(s) ` +
        `${c.pinning.client}. "client cores" is the client's CPU use out of its ` +
        `${c.clientCoresAvailable ?? "?"}; "(saturated)" (≥ 90%) marks a phase that measured ` +
        "the load generator: its rate and latency are not server figures."
      : "Not pinned: server, relay and client share every core.",
  );
  const traffic: string[][] = [];
  if (report.relay) {
    traffic.push(trafficRow("raw relay, pairs, max", report.relay.max));
    if (report.relay.half) traffic.push(trafficRow("raw relay, pairs, 50%", report.relay.half));
  }
  if (report.relayTls) {
    traffic.push(trafficRow("raw TLS relay, pairs, max", report.relayTls.max));
    const acked = report.relayTls.acked;
    if (acked) traffic.push(trafficRow("raw TLS relay with acks, pairs, max", acked));
    for (const floor of pacedFloors(report.relayTls)) {
      traffic.push(trafficRow(pacedFloorLabel(floor), floor.phase));
    }
    const pumped = report.relayTls.ackedPumped;
    if (pumped) {
      traffic.push(
        trafficRow("raw TLS relay with acks behind a loopback pump, pairs, max", pumped),
      );
    }
  }
  if (report.pairs) {
    traffic.push(trafficRow("CommuCat pairs, max", report.pairs.max));
    if (report.pairs.half) traffic.push(trafficRow("CommuCat pairs, 50%", report.pairs.half));
  }
  if (report.fanout) {
    traffic.push(trafficRow(`CommuCat fanout G=${c.groupSize}, max`, report.fanout.max));
  }
  if (report.multipath) {
    traffic.push(
      trafficRow(`CommuCat pairs over ${report.multipath.paths}, max`, report.multipath.max),
    );
  }
  if (report.sfu) traffic.push(trafficRow("CommuCat SFU voice pairs, max", report.sfu.max));
  const cluster = report.cluster && "single" in report.cluster ? report.cluster : null;
  if (cluster) {
    traffic.push(trafficRow("pairs, 1 instance (PostgreSQL + Redis), max", cluster.single));
    traffic.push(trafficRow("pairs, 2 instances, cross-instance, max", cluster.cross));
  }
  if (traffic.length > 0) {
    out.push("", "### Delivery");
    out.push(
      "",
      table([
        "phase",
        "conns",
        "rate asked",
        "delivered/s",
        "p50",
        "p95",
        "p99",
        "server CPU /1k",
        "per CPU-s",
        "server cores",
        "client cores",
        "missing/errors",
      ], traffic),
    );
    const floors = pacedFloors(report.relayTls);
    const paced = [
      report.relay?.half,
      ...floors.map((f) => f.phase),
      report.pairs?.half,
      report.acceptModes?.pairs?.half,
      report.acceptModes?.pairs?.atGuardedHalf,
    ].filter((t): t is TrafficSummary => t != null);
    if (paced.length > 0) out.push("", pacingNote(paced));
    const waits = runQueueNote([
      ["raw relay, pairs, max", report.relay?.max],
      ["raw relay, pairs, 50%", report.relay?.half],
      ...floors.map((f): [string, TrafficSummary] => [
        pacedFloorLabel(f).replace(", pairs", ""),
        f.phase,
      ]),
      ["CommuCat pairs, max", report.pairs?.max],
      ["CommuCat pairs, 50%", report.pairs?.half],
      ["direct accept, pairs, 50%", report.acceptModes?.pairs?.half],
      ["direct accept, pairs, at guarded's 50%", report.acceptModes?.pairs?.atGuardedHalf],
      ["multipath pairs, max", report.multipath?.max],
      ["cluster, 1 instance", cluster?.single],
      ["cluster, cross-instance", cluster?.cross],
    ]);
    if (waits) out.push("", waits);
    const kept = keptCopiesNote([
      ["CommuCat pairs, max", report.pairs?.max],
      ["CommuCat pairs, 50%", report.pairs?.half],
      ["direct accept, pairs, max", report.acceptModes?.pairs?.max],
      ["direct accept, pairs, 50%", report.acceptModes?.pairs?.half],
      ["direct accept, pairs, at guarded's 50%", report.acceptModes?.pairs?.atGuardedHalf],
      ["multipath pairs, max", report.multipath?.max],
      ["cluster, 1 instance", cluster?.single],
      ["cluster, cross-instance", cluster?.cross],
    ]);
    if (kept) out.push("", kept);
    const split = delaySplitNote([
      ["CommuCat pairs, 50%", report.pairs?.half],
      ["direct accept, pairs, 50%", report.acceptModes?.pairs?.half],
      ["direct accept, pairs, at guarded's 50%", report.acceptModes?.pairs?.atGuardedHalf],
    ]);
    if (split) out.push("", split);
    if (report.multipath && report.pairs) {
      out.push("", multipathNote(report.multipath, report.pairs.max));
    }
  }
  if (cluster) {
    const perThousand = (t: typeof cluster.single) =>
      t.servicesCpuSeconds == null || t.deliveredPerSecond === 0
        ? "–"
        : (t.servicesCpuSeconds / (t.deliveredPerSecond * report.config.durationSeconds) * 1e6)
          .toFixed(1);
    const cores = (t: typeof cluster.single) => t.serverCores?.toFixed(2) ?? "–";
    out.push(
      "",
      `Cross-instance (both instances on the server cores, as the one instance is; server CPU ` +
        `summed${
          cluster.accept ? `; server.accept = ${cluster.accept} in both` : ""
        }; same client, window and max rate): offline-queue notices delivered as carried on the bus ` +
        `${num(cluster.busCarriedDelivered)}, read from the queue instead ` +
        `${num(cluster.busQueueReads)}${
          cluster.busMessages === undefined
            ? ""
            : `; held-copies bus messages ${num(cluster.busMessages)} (${
              (cluster.busMessages / Math.max(1, cluster.busCarriedDelivered)).toFixed(3)
            } per carried delivery)`
        }. Server cores used: one instance ${cores(cluster.single)}, ` +
        `two ${cores(cluster.cross)} (near 1.0 the core caps the rate, and the rate ratio is the ` +
        `CPU-per-message ratio; below it the window of unacknowledged sends does). PostgreSQL + ` +
        `Redis CPU-ms per 1,000 (their processes machine-wide, unpinned, other tenants included): ` +
        `${perThousand(cluster.single)} vs ${perThousand(cluster.cross)}.`,
    );
  } else if (report.cluster && "skipped" in report.cluster) {
    out.push("", `Scenario cluster skipped: ${report.cluster.skipped}.`);
  }
  if (report.transports) {
    const t = report.transports;
    const row = (name: string, what: string, r: typeof t.direct.download) => [
      name,
      what,
      `${(r.bytesPerSecond / 1e6).toFixed(1)} MB/s`,
      r.bytesPerServerCpuSecond === null ? "—" : `${(r.bytesPerServerCpuSecond / 1e6).toFixed(1)}`,
      r.clientCores.toFixed(2),
    ];
    const file = `download ${t.fileBytes / (1024 * 1024)} MiB file`;
    const msgs = `${t.messageBytes / 1024} KiB messages, window ${t.window}`;
    out.push("", "### Transports (bulk)");
    out.push(
      "",
      table(["path", "traffic", "throughput", "MB per server CPU-s", "client cores"], [
        row("direct TLS", file, t.direct.download),
        row("Shadowsocks listener (SDK client)", file, t.shadowsocks.download),
        row("direct TLS", msgs, t.direct.messages),
        row("Shadowsocks listener (SDK client)", msgs, t.shadowsocks.messages),
      ]),
    );
  }
  const storms: string[][] = [];
  if (report.handshakeByPattern) {
    for (const { pattern, storm } of report.handshakeByPattern) {
      storms.push(stormRow(`handshake storm ${pattern} (new devices)`, storm));
    }
  } else if (report.handshake) {
    storms.push(stormRow("handshake storm (new devices)", report.handshake));
  }
  if (report.reconnect) storms.push(stormRow("reconnect storm (known devices)", report.reconnect));
  const floors: [string, ConnectFloorSummary | null | undefined][] = [
    ["raw TLS relay connect storm (floor: Deno TLS + upgrade + WebSocket)", report.relayConnect],
    [
      "raw TLS relay connect storm behind a loopback pump (guarded's floor)",
      report.relayConnectPumped,
    ],
  ];
  for (const [label, floor] of floors) {
    if (!floor) continue;
    storms.push([
      label,
      `${num(floor.ok)}/${num(floor.count)}`,
      "",
      num(floor.perSecond, 1),
      ms(floor.latency.p50),
      ms(floor.latency.p99),
      floor.relayCpuMsPerConnection === null ? "–" : `${num(floor.relayCpuMsPerConnection, 2)} ms`,
      floor.relayCpuSeconds === null ? "–" : num(floor.relayCpuSeconds / floor.seconds, 2),
      "",
    ]);
  }
  if (storms.length > 0) {
    out.push("", "### Handshakes");
    out.push(
      "",
      table(
        [
          "phase",
          "ok/total",
          "concurrency",
          "handshakes/s",
          "p50",
          "p99",
          "server CPU each",
          "server cores",
          "client cores",
        ],
        storms,
      ),
    );
    if (c.stormWarmup) {
      out.push(
        "",
        `The storms follow an unmeasured warm-up of ${c.stormWarmup} new devices (JIT). ` +
          "The floor row is the raw Deno relay: its CPU per new TLS WebSocket connection.",
      );
    }
    const ratios = hybridCpuRatios(report.handshakeByPattern ?? []);
    if (ratios.length > 0) {
      out.push("", `Server CPU per hybrid ÷ classical handshake (same run): ${ratios.join(", ")}.`);
    }
  }
  const p = report.primitives;
  if (p) {
    out.push("", "### Handshake bound (server-side primitives, this process)");
    out.push(
      "",
      table(["X25519 DH", "ZKP verify", "certificate issue", "3 DH + verify + issue", "bound"], [[
        `${num(p.x25519DhUs, 1)} µs`,
        `${num(p.zkpVerifyUs, 1)} µs`,
        `${num(p.certificateIssueUs, 1)} µs`,
        `${num(p.handshakeUs, 1)} µs`,
        `${num(p.handshakesPerCoreSecond)} /s per core`,
      ]]),
    );
  }
  if (report.idle || report.relayIdle) {
    const row = (name: string, i: IdleSummary) => [
      name,
      num(i.connections),
      `${num(i.baselineRssBytes / 1048576, 1)} MiB`,
      `${num(i.loadedRssBytes / 1048576, 1)} MiB`,
      `${num(i.bytesPerConnection / 1024, 1)} KiB`,
      i.heapUsedBytesPerConnection === undefined
        ? "–"
        : `${num(i.heapUsedBytesPerConnection / 1024, 1)} / ${
          num(i.externalBytesPerConnection! / 1024, 1)
        } KiB (V8 holds ${num((i.heapTotalBytesPerConnection ?? NaN) / 1024, 1)})`,
      `${num(i.openSeconds, 1)} s`,
    ];
    const rows: string[][] = [];
    if (report.relayIdle) rows.push(row("raw TLS relay (floor)", report.relayIdle));
    if (report.relayIdlePumped) {
      rows.push(
        row("raw TLS relay behind a loopback pump (guarded's floor)", report.relayIdlePumped),
      );
    }
    if (report.idle) rows.push(row("CommuCat", report.idle));
    out.push("", "### Idle connections");
    out.push(
      "",
      table(
        [
          "server",
          "connections",
          "RSS before",
          "RSS with them",
          "per connection",
          "of which V8 heap / external",
          "open time",
        ],
        rows,
      ),
    );
  }
  out.push(...renderAcceptModes(report));
  out.push(...renderVerdicts(report.verdicts ?? [], report.targets));
  for (const profile of report.profiles) {
    out.push("", `### Server profile (${profile.phase}; full report: ${profile.file})`);
    out.push(
      "",
      table(
        ["self %", "object", "symbol"],
        profile.top.map((r) => [`${num(r.percent, 2)}%`, r.dso, r.symbol]),
      ),
    );
  }
  if (report.notes.length > 0) {
    out.push("", "### Notes", "", ...report.notes.map((n) => `- ${n}`));
  }
  return out.join("\n") + "\n";
}

/** `XKhfs/XK 2.10×` for every hybrid storm whose classical pattern ran too, with server CPU. */
export function hybridCpuRatios(
  storms: readonly { pattern: string; storm: StormSummary }[],
): string[] {
  const cpu = new Map(storms.map((s) => [s.pattern, s.storm.serverCpuMsPerHandshake]));
  const ratios: string[] = [];
  for (const { pattern } of storms) {
    if (!pattern.endsWith("hfs")) continue;
    const classical = pattern.slice(0, -3);
    const hybrid = cpu.get(pattern);
    const base = cpu.get(classical);
    if (hybrid != null && base != null && base > 0) {
      ratios.push(`${pattern}/${classical} ${(hybrid / base).toFixed(2)}×`);
    }
  }
  return ratios;
}
