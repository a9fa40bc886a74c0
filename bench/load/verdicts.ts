/**
 * Issue 18's "Done when": each budget is met in one pinned run, or the run
 * shows the native floor that stops it and the figure that would be reached
 * without it. One row per budget (and per accept mode measured): ours, the
 * floor measured in the same run, the ceiling (the best figure reachable with
 * every line of ours free, i.e. at the floor), ours without the floor's cost,
 * and the verdict (rendered by verdict_table.ts). The target table in words
 * stays in targets.ts.
 *
 * @module
 */
import { shareWithoutFloor } from "./connect_floor.ts";
import { num } from "./format.ts";
import { idleConnectionCap as idleConnectionCapOf, RESERVED_FILES } from "./open_files.ts";
import { pacedFloorAt, pacedFloors } from "./paced_floor.ts";
import type {
  IdleSummary,
  LoadReport,
  StormSummary,
  TargetResult,
  TrafficSummary,
} from "./report_types.ts";
import { ratio } from "./stats.ts";
import { contended, TARGETS } from "./targets.ts";

/**
 * "stopped by floor": the ceiling itself misses the budget; "not met: ours":
 * the ceiling meets it, ours does not (or no floor was measured to blame).
 */
export type Verdict = "met" | "stopped by floor" | "not met: ours" | "not measured";

/** Units of the figures: `share` 0..1, `ratio` ×, `bytes`, `ms` latency, `CPU-ms`, `msg/CPU-s`. */
export type Unit = "share" | "ratio" | "msg/CPU-s" | "CPU-ms" | "bytes" | "ms";

/** One number of a verdict row. */
export interface Figure {
  value: number;
  unit: Unit;
}

/** One budget judged against its floor. Figures are null where not measured or not meaningful. */
export interface VerdictRow {
  id: string;
  /** The budget in words (with the accept mode when both were measured). */
  budget: string;
  ours: Figure | null;
  /** The native floor measured in the same run. */
  floor: Figure | null;
  /** The best figure reachable with every line of ours free. */
  ceiling: Figure | null;
  /** Ours with the floor's cost taken out. */
  withoutFloor: Figure | null;
  verdict: Verdict;
  note?: string;
}

/** Our phases of one server (the run's, or `--accept both`'s direct one). */
interface Ours {
  label: string;
  accept: string | undefined;
  pairs: { max: TrafficSummary; half: TrafficSummary | null } | null;
  handshake: StormSummary | null;
  idle: IdleSummary | null;
}

const fig = (value: number | null | undefined, unit: Unit): Figure | null =>
  value == null || !Number.isFinite(value) ? null : { value, unit };
const pct = (v: number) => `${num(v * 100)}%`;

/** The verdict of `ours` against a budget `meets`, given the `ceiling` the floor leaves. */
export function judge(
  ours: number | null,
  ceiling: number | null,
  meets: (value: number) => boolean,
): Verdict {
  if (ours === null) return "not measured";
  if (meets(ours)) return "met";
  if (ceiling !== null && !meets(ceiling)) return "stopped by floor";
  return "not met: ours";
}

/**
 * Messages per CPU-second of the part of our cost above the floor:
 * 1e6 / (ours µs/msg − floor µs/msg), with µs/msg = 1e6 / (msg per CPU-s).
 * Null when ours is not dearer than the floor (noise: nothing of ours left).
 */
export function perCpuWithoutFloor(oursPerCpu: number, floorPerCpu: number): number | null {
  const above = 1e6 / oursPerCpu - 1e6 / floorPerCpu;
  return above > 0 ? 1e6 / above : null;
}

/**
 * The 1:1 share of the plain relay if the native floor cost what the plain
 * relay costs: r / (r + max(0, o − f)), costs in µs/msg of the plain relay
 * (r), ours (o) and the TLS relay with acks (f): our own cost above the floor
 * added to the plain relay's.
 */
export function relayShareWithoutFloor(ours: number, floor: number, relay: number): number {
  const cost = (perCpu: number) => 1e6 / perCpu;
  const r = cost(relay);
  return r / (r + Math.max(0, cost(ours) - cost(floor)));
}

/**
 * The handshake ceiling: bound / (bound + floor) in time per handshake
 * (1/boundPerSecond and the connect floor's CPU-ms): the share of the bound
 * a server reaches that pays the primitives and the floor and nothing else.
 */
export function handshakeCeiling(boundPerSecond: number, floorCpuMs: number): number {
  const boundMs = 1000 / boundPerSecond;
  return boundMs / (boundMs + floorCpuMs);
}

/** Largest idle connection count the open-files `limit` holds (3 files each guarded, 1 direct). */
export function idleConnectionCap(limit: number, accept: string | undefined): number {
  return idleConnectionCapOf(limit, accept !== "direct");
}

/**
 * The 1:1 floor of a server in its accept mode, per server CPU-second: the
 * TLS relay with acks, and for a guarded server the same relay behind the
 * minimal raw TCP → loopback pump (`relayTls.ackedPumped`): the guarded
 * path's pump is native cost too. `name` says which (and when a guarded
 * server's pumped floor was not measured).
 */
export function pairsFloor(
  report: Omit<LoadReport, "targets">,
  accept: string | undefined,
): { perCpu: number | null; name: string } {
  const tls = report.relayTls;
  if (accept !== "direct" && tls?.ackedPumped) {
    return {
      perCpu: tls.ackedPumped.deliveredPerServerCpuSecond ?? null,
      name: "TLS relay with acks behind a loopback pump (guarded's floor)",
    };
  }
  return {
    perCpu: tls?.acked?.deliveredPerServerCpuSecond ?? null,
    name: accept !== "direct" && tls?.acked
      ? "TLS relay with acks (no pumped floor measured: the loopback pump counts as ours)"
      : "TLS relay with acks",
  };
}

/** 1:1 per server CPU-second as a share of the plain relay's; floor: {@link pairsFloor}. */
function pairsVsRelay(report: Omit<LoadReport, "targets">, o: Ours): VerdictRow {
  const relay = report.relay?.max.deliveredPerServerCpuSecond ?? null;
  const pairs = o.pairs?.max.deliveredPerServerCpuSecond ?? null;
  const { perCpu: floor, name } = pairsFloor(report, o.accept);
  const ours = ratio(pairs, relay);
  const ceiling = ratio(floor, relay);
  const meets = (v: number) => v >= TARGETS.pairsVsRelay;
  return {
    id: "pairs-vs-relay",
    budget: `1:1 per server CPU-s ≥ ${pct(TARGETS.pairsVsRelay)} of the raw relay${o.label}`,
    ours: fig(ours, "share"),
    floor: fig(floor, "msg/CPU-s"),
    ceiling: fig(ceiling, "share"),
    withoutFloor: fig(
      ours !== null && ceiling !== null ? relayShareWithoutFloor(pairs!, floor!, relay!) : null,
      "share",
    ),
    verdict: judge(ours, ceiling, meets),
    note: ours === null
      ? undefined
      : ceiling === null
      ? "no floor measured (--tls-baseline): ours is not put against one"
      : `floor = ${name}; ours ${pct(pairs! / floor!)} of it; ceiling = floor ÷ relay` +
        rateShare(report, o),
  };
}

/**
 * The measured-rate ratio beside the per-CPU one: the targets table judges
 * rates when the client kept up, and rates follow whichever phase other
 * tenants slowed more (or the client's window, when neither server used its
 * whole core); CPU per message does not.
 */
function rateShare(report: Omit<LoadReport, "targets">, o: Ours): string {
  const rates = ratio(o.pairs?.max.deliveredPerSecond, report.relay?.max.deliveredPerSecond);
  return rates === null ? "" : `; measured rates ${pct(rates)} of the relay's`;
}

/** Delivered per server CPU-second; floor: {@link pairsFloor} per CPU-second. */
function perCpuSecond(report: Omit<LoadReport, "targets">, o: Ours): VerdictRow {
  const ours = o.pairs?.max.deliveredPerServerCpuSecond ?? null;
  const { perCpu: floor, name } = pairsFloor(report, o.accept);
  const budget = TARGETS.deliveredPerCpuSecond;
  const without = ours !== null && floor !== null ? perCpuWithoutFloor(ours, floor) : null;
  const notes: string[] = [];
  if (ours !== null && floor !== null) {
    notes.push(
      `floor = ${name}; ours ${pct(ours / floor)} of it; ${num(1e6 / ours, 1)} vs ${
        num(1e6 / floor, 1)
      } µs/msg; without floor = 1e6 ÷ (ours − floor µs/msg)`,
    );
    if (floor < budget) notes.push(`the floor itself is below ${num(budget)} on this machine`);
  } else if (ours !== null) notes.push("no floor measured (--tls-baseline)");
  return {
    id: "delivered-per-cpu-second",
    budget: `≥ ${num(budget)} delivered msg per server CPU-s${o.label}`,
    ours: fig(ours, "msg/CPU-s"),
    floor: fig(floor, "msg/CPU-s"),
    ceiling: fig(floor, "msg/CPU-s"),
    withoutFloor: fig(without, "msg/CPU-s"),
    verdict: judge(ours, floor, (v) => v >= budget),
    note: notes.length > 0 ? notes.join("; ") : undefined,
  };
}

/**
 * The handshake floor of a server in its accept mode, CPU-ms per connection:
 * the relay connect storm, and for a guarded server the same storm behind
 * the minimal loopback pump (`relayConnectPumped`), as {@link pairsFloor}.
 */
export function connectFloor(
  report: Omit<LoadReport, "targets">,
  accept: string | undefined,
): { ms: number | null; name: string } {
  const pumped = report.relayConnectPumped?.relayCpuMsPerConnection ?? null;
  if (accept !== "direct" && pumped !== null) {
    return {
      ms: pumped,
      name: "Deno TLS + WebSocket behind a loopback pump (guarded's floor)",
    };
  }
  return {
    ms: report.relayConnect?.relayCpuMsPerConnection ?? null,
    name: accept !== "direct" && report.relayConnect
      ? "Deno TLS + WebSocket (no pumped floor measured: the loopback pump counts as ours)"
      : "Deno TLS + WebSocket",
  };
}

/** Handshakes per server CPU-second vs the primitive bound; floor: {@link connectFloor}. */
function handshakes(report: Omit<LoadReport, "targets">, o: Ours): VerdictRow {
  const bound = report.primitives?.handshakesPerCoreSecond ?? null;
  const cpuMs = o.handshake?.serverCpuMsPerHandshake ?? null;
  const { ms: floorMs, name } = connectFloor(report, o.accept);
  const ours = cpuMs && bound ? ratio(1000 / cpuMs, bound) : null;
  const ceiling = bound && floorMs !== null ? handshakeCeiling(bound, floorMs) : null;
  const without = ours !== null && floorMs !== null
    ? shareWithoutFloor(cpuMs!, floorMs, bound!).withoutFloor
    : null;
  return {
    id: "handshakes-vs-bound",
    budget: `handshakes per server CPU-s ≥ ${
      pct(TARGETS.handshakesVsBound)
    } of the primitive bound${o.label}`,
    ours: fig(ours, "share"),
    floor: fig(floorMs, "CPU-ms"),
    ceiling: fig(ceiling, "share"),
    withoutFloor: fig(without, "share"),
    verdict: judge(ours, ceiling, (v) => v >= TARGETS.handshakesVsBound),
    note: ours === null
      ? undefined
      : ceiling === null
      ? "no connect floor measured"
      : `floor = ${name}, CPU-ms per connection; ceiling = bound ÷ (bound + floor) in ms per handshake (${
        num(1000 / bound!, 3)
      } + ${num(floorMs!, 3)})`,
  };
}

/**
 * The memory floor of a server in its accept mode, bytes per idle
 * connection: the raw TLS relay's idle connections, and for a guarded server
 * the same behind the minimal loopback pump (`relayIdlePumped`), as
 * {@link pairsFloor}; `plain`: the relay's without the pump (shown beside a
 * pumped floor, so the pump's share is not hidden).
 */
export function idleFloor(
  report: Omit<LoadReport, "targets">,
  accept: string | undefined,
): { floor: IdleSummary | null; plain: IdleSummary | null; name: string } {
  const measured = (i: IdleSummary | null | undefined) => i && i.connections > 0 ? i : null;
  const plain = measured(report.relayIdle);
  const pumped = measured(report.relayIdlePumped);
  if (accept !== "direct" && pumped) {
    return { floor: pumped, plain, name: "raw TLS relay behind a loopback pump (guarded's floor)" };
  }
  return {
    floor: plain,
    plain,
    name: accept !== "direct" && plain
      ? "raw TLS relay (no pumped floor measured: the loopback pump counts as ours)"
      : "raw TLS relay",
  };
}

/** Bytes per idle connection ≤ the floor's + 4 KiB ({@link idleFloor}), with the count and the file limit. */
function idleMemory(report: Omit<LoadReport, "targets">, o: Ours): VerdictRow {
  const idle = o.idle && o.idle.connections > 0 ? o.idle : null;
  const { floor: relay, plain, name } = idleFloor(report, o.accept);
  const ours = idle?.bytesPerConnection ?? null;
  const floor = relay?.bytesPerConnection ?? null;
  const notes: string[] = [];
  const wanted = TARGETS.idleConnections;
  if (idle) {
    notes.push(
      `at ${num(idle.connections)} connections${
        idle.connections < wanted ? ` (budget: ${num(wanted)})` : ""
      }${relay ? `; floor = ${name} at ${num(relay.connections)}` : ""}`,
    );
    if (relay && plain && plain !== relay) {
      const p = plain.bytesPerConnection;
      notes.push(
        `against the relay without the pump (${num(p / 1024, 1)} KiB): ${
          signedKiB(ours! - p)
        } (the pump adds ${signedKiB(floor! - p)} to the floor)`,
      );
    }
  }
  const limit = o.idle?.openFilesLimit;
  if (limit !== undefined) {
    const cap = idleConnectionCap(limit, o.accept);
    if (cap < wanted) {
      notes.push(
        `the server's open-files limit ${num(limit)} holds at most ${num(cap)} ${
          o.accept === "direct" ? "direct (1 file each)" : "guarded (3 files each)"
        } connections ((limit − ${RESERVED_FILES}) ÷ files each): ${
          num(wanted)
        } cannot be measured here (ulimit -n)`,
      );
    }
  }
  if (idle && floor === null) notes.push("no floor measured (--no-baseline)");
  return {
    id: "idle-memory",
    budget: `≤ floor + ${num(TARGETS.idleBytesAboveFloor / 1024)} KiB per idle connection at ${
      num(wanted)
    }${o.label}`,
    ours: fig(ours, "bytes"),
    floor: fig(floor, "bytes"),
    // With every byte of ours free the server holds the floor: never above budget.
    ceiling: fig(floor, "bytes"),
    withoutFloor: fig(ours !== null && floor !== null ? ours - floor : null, "bytes"),
    verdict: floor === null
      ? "not measured"
      : judge(ours, floor, (v) => v - floor <= TARGETS.idleBytesAboveFloor),
    note: notes.length > 0 ? notes.join("; ") : undefined,
  };
}

/** `bytes` as signed KiB with one decimal: "+1.8 KiB", "−0.4 KiB". */
const signedKiB = (bytes: number) =>
  `${bytes < 0 ? "−" : "+"}${num(Math.abs(bytes) / 1024, 1)} KiB`;

/** A paced phase's p99 when it measured the server (not a saturated client). */
const pacedP99 = (t: TrafficSummary | null | undefined) =>
  t && t.latency.count > 0 && !t.clientSaturated ? t.latency.p99 : null;

/**
 * p99 at 50%: ours beside the TLS relay with acks paced at this mode's own
 * rate by the same client (`relayTls.ackedPaced`, paced_floor.ts).
 * Percentiles do not subtract, so there is no "without floor" figure.
 */
function p99AtHalf(report: Omit<LoadReport, "targets">, o: Ours): VerdictRow {
  const half = o.pairs?.half ?? null;
  const floorPhase = pacedFloorAt(report.relayTls, half?.targetPerSecond);
  const ours = pacedP99(half);
  const floor = pacedP99(floorPhase);
  const notes: string[] = [];
  if (ours !== null) {
    notes.push(
      floorPhase !== null
        ? `ours and the floor (TLS relay with acks) both at ${
          num(half!.targetPerSecond)
        }/s, same client and pacing; percentiles do not subtract: side by side`
        : pacedFloors(report.relayTls).length > 0
        ? `no floor measured at this mode's rate (${num(half!.targetPerSecond)}/s)`
        : "no floor measured (--tls-baseline)",
    );
    if (report.config.clientWebSocket === "deno") {
      notes.push(
        "client WebSocket deno (Nagle on): both tails include the client's Nagle " +
          "(its acks wait for delayed ACKs)",
      );
    }
  }
  if (half?.clientSaturated) notes.push("client saturated in our 50% phase");
  if (floorPhase?.clientSaturated) notes.push("client saturated in the floor's 50% phase");
  for (const [name, t] of [["ours", half], ["floor", floorPhase]] as const) {
    if (t && contended(t)) {
      notes.push(
        `${name} contended (server ${num((t.serverRunQueueWait ?? 0) * 1000)} ms/s, ` +
          `client ${num((t.clientRunQueueWait ?? 0) * 1000)} ms/s run-queue wait)`,
      );
    }
  }
  return {
    id: "p99-at-half",
    budget: `p99 ≤ ${TARGETS.p99AtHalfMs} ms at 50% of max 1:1${o.label}`,
    ours: fig(ours, "ms"),
    floor: fig(floor, "ms"),
    ceiling: fig(floor, "ms"),
    withoutFloor: null,
    verdict: judge(ours, floor, (v) => v <= TARGETS.p99AtHalfMs),
    note: notes.length > 0 ? notes.join("; ") : undefined,
  };
}

/** Multipath pairs' delivered/s vs the single-path pairs (per server CPU-s if a client saturated). */
export function multipathShare(report: Omit<LoadReport, "targets">): number | null {
  const m = report.multipath?.max;
  const single = report.pairs?.max;
  if (!m || !single) return null;
  return m.clientSaturated || single.clientSaturated
    ? ratio(m.deliveredPerServerCpuSecond, single.deliveredPerServerCpuSecond)
    : ratio(m.deliveredPerSecond, single.deliveredPerSecond);
}

/** A budget with no floor of its own (targets.ts): met or not met. */
function plain(t: TargetResult, unit: Unit): VerdictRow {
  return {
    id: t.id,
    budget: t.target,
    ours: fig(t.value, unit),
    floor: null,
    ceiling: null,
    withoutFloor: null,
    verdict: t.met === null ? "not measured" : t.met ? "met" : "not met: ours",
    note: t.met === null ? t.note : t.measured + (t.note ? ` (${t.note})` : ""),
  };
}

/** Every budget of `report` judged against its floor; `targets`: targets.ts's verdicts. */
export function judgeBudgets(
  report: Omit<LoadReport, "targets">,
  targets: TargetResult[],
): VerdictRow[] {
  const direct = report.acceptModes;
  const servers: Ours[] = [{
    label: direct ? ` (${report.config.accept === "both" ? "guarded" : report.config.accept})` : "",
    accept: report.config.accept === "both" ? "guarded" : report.config.accept,
    pairs: report.pairs,
    handshake: report.handshake,
    idle: report.idle,
  }];
  if (direct) servers.push({ label: " (direct)", ...direct });
  const rows: VerdictRow[] = [];
  for (const judgeOne of [pairsVsRelay, perCpuSecond, handshakes, idleMemory, p99AtHalf]) {
    for (const o of servers) rows.push(judgeOne(report, o));
  }
  const byId = new Map(targets.map((t) => [t.id, t]));
  const cross = byId.get("cross-vs-single-instance");
  if (cross) rows.push(plain(cross, "share"));
  const sfu = byId.get("sfu-cpu-vs-pairs");
  if (sfu) rows.push(plain(sfu, "ratio"));
  const ss = byId.get("shadowsocks-vs-tls");
  if (ss) rows.push(plain(ss, "share"));
  const mp = multipathShare(report);
  rows.push({
    id: "multipath-vs-pairs",
    budget: `multipath pairs ≥ ${pct(TARGETS.multipathVsPairs)} of the single-path pairs' rate`,
    ours: fig(mp, "share"),
    floor: null,
    ceiling: null,
    withoutFloor: null,
    verdict: mp === null
      ? "not measured"
      : mp >= TARGETS.multipathVsPairs
      ? "met"
      : "not met: ours",
  });
  return rows;
}
