/**
 * `--accept guarded|direct|both`: the server's accept mode under load
 * (`server.accept`, docs/OPERATIONS.md "Accept modes"). With `both`, a second
 * server is spawned with `server.accept = "direct"` (no loopback pump) after
 * the guarded one's phases, and the idle-memory, handshake-storm and pairs
 * (1:1 max and 50%) phases run again against it, so one report shows both
 * columns beside the same relay baseline; and a direct 1:1 phase paced at
 * the guarded 50% phase's rate, so the two modes' CPU per message is also
 * read at one rate (it falls as a server's rate rises, and the guarded max
 * runs at a lower rate than the direct one: PERFORMANCE.md round 10).
 *
 * @module
 */
import type { TargetJson } from "./agent.ts";
import { num, table } from "./format.ts";
import type { IdleSummary, LoadReport, StormSummary, TrafficSummary } from "./report_types.ts";
import type { SpawnedServer } from "./spawn.ts";

/** What `--accept` asks for. */
export type AcceptChoice = "guarded" | "direct" | "both";
/** The accept modes of `--accept`. */
export const ACCEPT_CHOICES: readonly AcceptChoice[] = ["guarded", "direct", "both"];

/** The environment that puts a spawned server in `accept` mode. */
export function acceptEnv(accept: "guarded" | "direct"): Record<string, string> {
  return { COMMUCAT_SERVER_ACCEPT: accept };
}

/** The direct server's 1:1 phases. */
export interface DirectPairs {
  max: TrafficSummary;
  half: TrafficSummary | null;
  /** Paced at the guarded 50% phase's rate (absent when that phase was not measured). */
  atGuardedHalf?: TrafficSummary | null;
}

/** The phases measured again against the direct-mode server. */
export interface AcceptModeSummary {
  accept: "direct";
  pairs: DirectPairs | null;
  handshake: StormSummary | null;
  idle: IdleSummary | null;
}

/** The run's phases, as run.ts offers them for another server. */
export interface AcceptModePhases {
  /** Spawns a server with the extra environment (pinned and flagged as the first one). */
  spawn(env: Record<string, string>): Promise<SpawnedServer>;
  idle(target: TargetJson, server: SpawnedServer): Promise<IdleSummary>;
  handshake(target: TargetJson, pid: number): Promise<StormSummary>;
  /** `profile`: the name suffix of the perf profiles (`--profile`); `adminToken` reads `/metrics`. */
  pairs(
    target: TargetJson,
    pid: number,
    profile: string,
    adminToken: string,
  ): Promise<DirectPairs>;
  /** Adds the server's ML-DSA pin to `target` (hybrid patterns). */
  pin(target: TargetJson): Promise<TargetJson>;
  progress(line: string): void;
}

/** Runs the chosen phases against a direct-mode server; it is stopped afterwards. */
export async function measureDirectMode(
  wanted: { idle: boolean; handshake: boolean; pairs: boolean },
  p: AcceptModePhases,
): Promise<AcceptModeSummary> {
  p.progress("starting commucat serve (server.accept = direct)");
  const server = await p.spawn(acceptEnv("direct"));
  try {
    const target = await p.pin(server.target);
    const summary: AcceptModeSummary = {
      accept: "direct",
      pairs: null,
      handshake: null,
      idle: null,
    };
    if (wanted.idle) summary.idle = await p.idle(target, server);
    if (wanted.handshake) summary.handshake = await p.handshake(target, server.pid);
    if (wanted.pairs) {
      summary.pairs = await p.pairs(target, server.pid, "-direct", server.adminToken);
    }
    return summary;
  } finally {
    await server.stop();
  }
}

/** The side-by-side table of `report.acceptModes` (empty when not measured). */
export function renderAcceptModes(report: LoadReport): string[] {
  const direct = report.acceptModes;
  if (!direct) return [];
  const rows: string[][] = [];
  const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 2) =>
    a && b ? `${num(b / a, digits)}×` : "–";
  const relay = report.relay?.max.deliveredPerSecond;
  const traffic = (name: string, g?: TrafficSummary | null, d?: TrafficSummary | null) => {
    if (!g && !d) return;
    rows.push([
      `${name}: delivered msg/s`,
      num(g?.deliveredPerSecond),
      num(d?.deliveredPerSecond),
      ratio(g?.deliveredPerSecond, d?.deliveredPerSecond),
    ]);
    if (relay && name.endsWith("max")) {
      const pct = (t?: TrafficSummary | null) =>
        t ? `${num(t.deliveredPerSecond / relay * 100)}%` : "–";
      rows.push([`${name}: of the raw relay`, pct(g), pct(d), ""]);
    }
    const cpuMs = (t?: TrafficSummary | null) =>
      t?.serverCpuPer1000 == null ? null : t.serverCpuPer1000 * 1000;
    rows.push([
      `${name}: server CPU-ms per 1,000`,
      num(cpuMs(g), 1),
      num(cpuMs(d), 1),
      ratio(cpuMs(g), cpuMs(d)),
    ]);
    rows.push([
      `${name}: delivered per server CPU-s`,
      num(g?.deliveredPerServerCpuSecond),
      num(d?.deliveredPerServerCpuSecond),
      ratio(g?.deliveredPerServerCpuSecond, d?.deliveredPerServerCpuSecond),
    ]);
    rows.push([`${name}: p99 ms`, num(g?.latency.p99, 2), num(d?.latency.p99, 2), ""]);
  };
  traffic("pairs max", report.pairs?.max, direct.pairs?.max);
  traffic("pairs 50%", report.pairs?.half, direct.pairs?.half);
  const same = direct.pairs?.atGuardedHalf;
  if (same && report.pairs?.half?.targetPerSecond) {
    traffic(
      `pairs at guarded's 50% (${num(report.pairs.half.targetPerSecond)}/s, both)`,
      report.pairs.half,
      same,
    );
  }
  const g = report.handshake;
  const d = direct.handshake;
  if (g || d) {
    const perCpu = (s?: StormSummary | null) =>
      s?.serverCpuSeconds ? s.ok / s.serverCpuSeconds : null;
    rows.push([
      "handshakes/s",
      num(g?.perSecond),
      num(d?.perSecond),
      ratio(g?.perSecond, d?.perSecond),
    ]);
    rows.push([
      "handshakes per server CPU-s",
      num(perCpu(g)),
      num(perCpu(d)),
      ratio(perCpu(g), perCpu(d)),
    ]);
  }
  const gi = report.idle;
  const di = direct.idle;
  if (gi || di) {
    const kib = (i?: IdleSummary | null) => i ? i.bytesPerConnection / 1024 : null;
    const floor = kib(report.relayIdle);
    const pumped = kib(report.relayIdlePumped);
    rows.push([
      "KiB per idle connection",
      num(kib(gi), 1),
      num(kib(di), 1),
      ratio(kib(gi), kib(di)),
    ]);
    const over = (i: IdleSummary | null | undefined, f: number) => {
      if (!i) return "–";
      const above = kib(i)! - f;
      return `${above < 0 ? "−" : "+"}${num(Math.abs(above), 1)}`;
    };
    if (floor !== null) {
      rows.push([`… over the floor (${num(floor, 1)} KiB)`, over(gi, floor), over(di, floor), ""]);
    }
    // Guarded's own floor: the relay behind the loopback pump (direct has no pump: –).
    if (pumped !== null) {
      rows.push([
        `… over the pumped floor (${num(pumped, 1)} KiB)`,
        over(gi, pumped),
        "–",
        "",
      ]);
    }
  }
  return [
    "",
    "### Accept modes (server.accept): guarded vs direct",
    "",
    table(["measure", "guarded (loopback pump)", "direct (Deno.serve)", "direct / guarded"], rows),
  ];
}
