/**
 * The performance budgets of the load generator and their evaluation. Every
 * budget is checked against numbers of the same run (raw relay, primitive
 * bound), never against constants measured elsewhere.
 *
 * @module
 */
import { shareWithoutFloor } from "./connect_floor.ts";
import type { LoadReport, TargetResult, TrafficSummary } from "./report_types.ts";
import { cpuCount } from "./pin.ts";
import { ratio } from "./stats.ts";

/** The budgets. */
export const TARGETS = {
  /** 1:1 delivered messages/s as a share of the raw relay's. */
  pairsVsRelay: 0.5,
  /** Delivered messages per server CPU second. */
  deliveredPerCpuSecond: 40_000,
  /** Handshakes/s as a share of the primitive bound (per core). */
  handshakesVsBound: 0.6,
  /**
   * Server bytes per idle established connection above the floor: the raw
   * TLS relay's bytes per idle connection (Deno's WebSocket + TLS) in the
   * same run.
   */
  idleBytesAboveFloor: 4 * 1024,
  /** Connections at which the memory budget applies. */
  idleConnections: 10_000,
  /** p99 delivery latency at half the maximum throughput, ms. */
  p99AtHalfMs: 10,
  /** Server CPU per forwarded voice frame (SFU) as a share of the 1:1 message's. */
  sfuVsPairsCpu: 1,
  /** Cross-instance routed msg/s as a share of one instance's (same backends, same run). */
  crossVsSingle: 0.8,
  /** Bulk bytes/s through the Shadowsocks listener as a share of direct TLS. */
  shadowsocksVsTls: 0.5,
  /** Multipath pairs' delivered msg/s as a share of the single-path pairs'. */
  multipathVsPairs: 0.7,
} as const;

/**
 * Run-queue wait (seconds per wall second) above which a phase counts as
 * contended: its event loops lost this much of their time to other tasks on
 * their cores, so a latency tail there is not only the measured side's.
 */
export const CONTENDED_RUN_QUEUE_WAIT = 0.05;

/** The server's or the client's event loop waited at least {@link CONTENDED_RUN_QUEUE_WAIT}. */
export function contended(t: TrafficSummary): boolean {
  return (t.serverRunQueueWait ?? 0) >= CONTENDED_RUN_QUEUE_WAIT ||
    (t.clientRunQueueWait ?? 0) >= CONTENDED_RUN_QUEUE_WAIT;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (r: number) => `${fmt(r * 100, 0)}%`;

function verdict(
  base: Omit<TargetResult, "met" | "value" | "measured">,
  value: number | null,
  measured: string,
  atMost = false,
): TargetResult {
  if (value === null || !Number.isFinite(value)) {
    return { ...base, value: null, measured: "not measured", met: null };
  }
  return {
    ...base,
    value,
    measured,
    met: atMost ? value <= base.threshold : value >= base.threshold,
  };
}

/** Evaluates every budget against `report`; a budget whose phase did not run is "not measured". */
export function evaluateTargets(report: Omit<LoadReport, "targets">): TargetResult[] {
  const results: TargetResult[] = [];
  const pairs = report.pairs?.max ?? null;
  const relay = report.relay?.max ?? null;

  // Both on one pinned core each: the measured rates when the client kept up
  // in both phases; otherwise what one full core of each does (delivered per
  // CPU-second), because a saturated client measured itself.
  const clientBound = !!(pairs?.clientSaturated || relay?.clientSaturated);
  const share = clientBound
    ? ratio(pairs?.deliveredPerServerCpuSecond, relay?.deliveredPerServerCpuSecond)
    : ratio(pairs?.deliveredPerSecond, relay?.deliveredPerSecond);
  const pairsVsRelay = verdict(
    {
      id: "pairs-vs-relay",
      target: `1:1 delivered msg/s ≥ ${pct(TARGETS.pairsVsRelay)} of the raw relay`,
      threshold: TARGETS.pairsVsRelay,
    },
    share,
    share === null
      ? ""
      : clientBound
      ? `${pct(share)} per server CPU-second (${fmt(pairs!.deliveredPerServerCpuSecond!)} vs ${
        fmt(relay!.deliveredPerServerCpuSecond!)
      } msg per CPU-s); measured rates ${fmt(pairs!.deliveredPerSecond)} vs ${
        fmt(relay!.deliveredPerSecond)
      } msg/s`
      : `${pct(share)} (${fmt(pairs!.deliveredPerSecond)} vs ${
        fmt(relay!.deliveredPerSecond)
      } msg/s)`,
  );
  if (clientBound && share !== null) {
    pairsVsRelay.note = "client saturated: one full core each, from CPU time";
  }
  // The native floor of the 1:1 path: the TLS relay carrying the same acks.
  const acked = report.relayTls?.acked?.deliveredPerServerCpuSecond ?? null;
  const perCpuShare = ratio(pairs?.deliveredPerServerCpuSecond, acked);
  if (perCpuShare !== null) {
    const floor = `per server CPU-second ${pct(perCpuShare)} of the TLS relay with acks (${
      fmt(pairs!.deliveredPerServerCpuSecond!)
    } vs ${fmt(acked!)})`;
    pairsVsRelay.note = pairsVsRelay.note ? `${pairsVsRelay.note}; ${floor}` : floor;
  }
  results.push(pairsVsRelay);

  const perCpu = pairs?.deliveredPerServerCpuSecond ?? null;
  results.push(verdict(
    {
      id: "delivered-per-cpu-second",
      target: `≥ ${fmt(TARGETS.deliveredPerCpuSecond)} delivered msg per server CPU-second`,
      threshold: TARGETS.deliveredPerCpuSecond,
    },
    perCpu,
    perCpu === null
      ? ""
      : `${fmt(perCpu)} msg/CPU-s (${fmt(pairs!.serverCpuPer1000! * 1000, 1)} CPU-ms per 1,000)`,
  ));

  const bound = report.primitives?.handshakesPerCoreSecond ?? null;
  const storm = report.handshake;
  // A saturated client (or a server core shared with other work) makes
  // handshakes/s a client figure; handshakes per server CPU-second is what
  // one full core of server does.
  const stormClientBound = !!storm?.clientSaturated;
  const perCoreHandshakes = storm?.serverCpuMsPerHandshake
    ? 1000 / storm.serverCpuMsPerHandshake
    : null;
  const handshakes = stormClientBound ? perCoreHandshakes : storm?.perSecond ?? null;
  const hsShare = ratio(handshakes, bound);
  const hs = verdict(
    {
      id: "handshakes-vs-bound",
      target: `handshakes/s ≥ ${pct(TARGETS.handshakesVsBound)} of the primitive bound (1 core)`,
      threshold: TARGETS.handshakesVsBound,
    },
    hsShare,
    hsShare === null ? "" : `${pct(hsShare)} (${fmt(handshakes!)} vs ${fmt(bound!)} /s)` +
      (perCoreHandshakes !== null && !stormClientBound
        ? `; per server CPU-second ${fmt(perCoreHandshakes)} /s = ${
          pct(perCoreHandshakes / bound!)
        }`
        : ""),
  );
  const floorMs = report.relayConnect?.relayCpuMsPerConnection ?? null;
  if (hsShare !== null && floorMs !== null && storm?.serverCpuMsPerHandshake) {
    const { withoutFloor } = shareWithoutFloor(storm.serverCpuMsPerHandshake, floorMs, bound!);
    hs.measured += `; without the Deno TLS+WebSocket floor (${fmt(floorMs, 2)} CPU-ms per ` +
      `connection) ${pct(withoutFloor)}`;
  }
  if (stormClientBound && hsShare !== null) {
    hs.note = "client saturated: handshakes per server CPU-second";
  }
  results.push(hs);

  const idle = report.idle;
  const floor = report.relayIdle && report.relayIdle.connections > 0
    ? report.relayIdle.bytesPerConnection
    : null;
  const above = idle && idle.connections > 0 && floor !== null
    ? idle.bytesPerConnection - floor
    : null;
  const memory = verdict(
    {
      id: "idle-memory",
      target: `≤ the Deno WebSocket+TLS floor + ${
        fmt(TARGETS.idleBytesAboveFloor / 1024)
      } KiB server memory per idle connection at ${fmt(TARGETS.idleConnections)}`,
      threshold: TARGETS.idleBytesAboveFloor,
    },
    above,
    idle && floor !== null
      ? `${fmt(idle.bytesPerConnection / 1024, 1)} KiB at ${fmt(idle.connections)}, floor ${
        fmt(floor / 1024, 1)
      } KiB: ${above! < 0 ? "−" : "+"}${fmt(Math.abs(above!) / 1024, 1)} KiB`
      : "",
    true,
  );
  const pumped = report.relayIdlePumped && report.relayIdlePumped.connections > 0
    ? report.relayIdlePumped.bytesPerConnection
    : null;
  if (above !== null && pumped !== null && report.config.accept !== "direct") {
    // The verdict table (verdicts.ts) judges a guarded server against this floor.
    const over = idle!.bytesPerConnection - pumped;
    memory.measured += `; behind a loopback pump (guarded's floor) ${fmt(pumped / 1024, 1)} KiB: ${
      over < 0 ? "−" : "+"
    }${fmt(Math.abs(over) / 1024, 1)} KiB`;
  }
  if (idle && floor === null) memory.note = "no floor measured in this run (--no-baseline)";
  else if (idle && idle.connections < TARGETS.idleConnections) {
    memory.note = `measured at ${fmt(idle.connections)} connections, not ${
      fmt(TARGETS.idleConnections)
    }`;
  }
  results.push(memory);

  const half = report.pairs?.half ?? null;
  const p99 = half && half.latency.count > 0 && !half.clientSaturated ? half.latency.p99 : null;
  const latency = verdict(
    {
      id: "p99-at-half",
      target: `p99 delivery latency ≤ ${TARGETS.p99AtHalfMs} ms at 50% of max 1:1 throughput`,
      threshold: TARGETS.p99AtHalfMs,
    },
    p99,
    p99 === null ? "" : `${fmt(p99, 2)} ms at ${fmt(half!.deliveredPerSecond)} msg/s`,
    true,
  );
  if (half?.clientSaturated) {
    latency.note = `client saturated at 50% (p99 ${
      fmt(half.latency.p99, 1)
    } ms measures the load generator)`;
  } else if (half && contended(half)) {
    latency.note = `contended: the event loops waited for their cores (server ${
      fmt((half.serverRunQueueWait ?? 0) * 1000, 0)
    } ms/s, client ${
      fmt((half.clientRunQueueWait ?? 0) * 1000, 0)
    } ms/s of run-queue wait): the p99 includes other tasks' time`;
  }
  results.push(latency);
  const sfu = report.sfu?.max ?? null;
  const sfuShare = ratio(sfu?.serverCpuPer1000, pairs?.serverCpuPer1000);
  results.push(verdict(
    {
      id: "sfu-cpu-vs-pairs",
      target: "server CPU per forwarded 20 ms voice frame ≤ the 1:1 message's",
      threshold: TARGETS.sfuVsPairsCpu,
    },
    sfuShare,
    sfuShare === null
      ? ""
      : `${fmt(sfuShare, 2)}× (${fmt(sfu!.serverCpuPer1000! * 1000, 1)} vs ${
        fmt(pairs!.serverCpuPer1000! * 1000, 1)
      } CPU-ms per 1,000)`,
    true,
  ));
  const t = report.transports ?? null;
  // HTTP download through the listener (where the transport is the bound); like
  // pairs-vs-relay, per server CPU-second when the client saturated in either run.
  const down = t ? { ss: t.shadowsocks.download, direct: t.direct.download } : null;
  const tClientBound = !!down && Math.max(down.direct.clientCores, down.ss.clientCores) >=
      0.9 * (report.config.clientCoresAvailable ?? report.machine.cores);
  const ssShare = !down
    ? null
    : tClientBound
    ? ratio(down.ss.bytesPerServerCpuSecond, down.direct.bytesPerServerCpuSecond)
    : ratio(down.ss.bytesPerSecond, down.direct.bytesPerSecond);
  const mb = (n: number) => fmt(n / 1e6, 1);
  results.push(verdict(
    {
      id: "shadowsocks-vs-tls",
      target: `bulk download through the Shadowsocks listener ≥ ${
        pct(TARGETS.shadowsocksVsTls)
      } of direct TLS`,
      threshold: TARGETS.shadowsocksVsTls,
    },
    ssShare,
    ssShare === null
      ? ""
      : tClientBound
      ? `${pct(ssShare)} per server CPU-second (${mb(down!.ss.bytesPerServerCpuSecond!)} vs ${
        mb(down!.direct.bytesPerServerCpuSecond!)
      } MB per CPU-s); measured ${mb(down!.ss.bytesPerSecond)} vs ${
        mb(down!.direct.bytesPerSecond)
      } MB/s`
      : `${pct(ssShare)} (${mb(down!.ss.bytesPerSecond)} vs ${
        mb(down!.direct.bytesPerSecond)
      } MB/s)`,
  ));
  results.push(crossInstance(report));
  return results;
}

/** A phase at or above this share of the server cores it had was server-bound. */
export const SERVER_BOUND = 0.9;

/**
 * Cross-instance vs one instance. At max rate with a window of unacknowledged
 * sends the rate is in-flight ÷ latency, so it measures the server only when
 * the server cores were the bound: both phases at ≥ {@link SERVER_BOUND} of
 * the pinned server cores (the instances share them as the one instance
 * has them). Else — one phase below it (the window and whatever delayed the
 * client set its rate: r0's one instance used 0.62 of its core while another
 * task held the client's core 659 ms/s), or a saturated client — delivered
 * per server CPU-second, the rate ratio a server-bound run shows.
 */
function crossInstance(report: Omit<LoadReport, "targets">): TargetResult {
  const c = report.cluster && "single" in report.cluster ? report.cluster : null;
  const clientBound = !!(c?.single.clientSaturated || c?.cross.clientSaturated);
  const pinned = report.config.pinning ? cpuCount(report.config.pinning.server) : null;
  const below = (t: TrafficSummary) =>
    pinned !== null && (t.serverCores ?? 0) < SERVER_BOUND * pinned;
  const notServerBound = c ? [c.single, c.cross].filter(below) : [];
  const perCpu = clientBound || notServerBound.length > 0;
  const share = !c
    ? null
    : perCpu
    ? ratio(c.cross.deliveredPerServerCpuSecond, c.single.deliveredPerServerCpuSecond)
    : ratio(c.cross.deliveredPerSecond, c.single.deliveredPerSecond);
  const cpu = (t: { serverCpuPer1000: number | null }) =>
    t.serverCpuPer1000 === null ? "–" : fmt(t.serverCpuPer1000 * 1000, 1);
  const result = verdict(
    {
      id: "cross-vs-single-instance",
      target: `cross-instance routed msg/s ≥ ${pct(TARGETS.crossVsSingle)} of one instance`,
      threshold: TARGETS.crossVsSingle,
    },
    share,
    share === null
      ? ""
      : `${pct(share)}${perCpu ? " per server CPU-second" : ""} (${
        fmt(c!.cross.deliveredPerSecond)
      } vs ${fmt(c!.single.deliveredPerSecond)} msg/s; server CPU-ms per 1,000 ${
        cpu(c!.cross)
      } vs ${cpu(c!.single)})`,
  );
  if (report.cluster && "skipped" in report.cluster) result.note = report.cluster.skipped;
  else if (clientBound && share !== null) {
    result.note = "client saturated: one full core each, from CPU time";
  } else if (perCpu && share !== null) {
    const cores = (t: TrafficSummary) => fmt(t.serverCores ?? 0, 2);
    result.note = `not server-bound: ${
      notServerBound.map((t) => `${t === c!.single ? "one instance" : "two"} ${cores(t)}`)
        .join(", ")
    } of ${pinned} server core(s), so the rates followed the window and the client; ` +
      `rates ${pct(ratio(c!.cross.deliveredPerSecond, c!.single.deliveredPerSecond) ?? 0)}`;
  }
  return result;
}
