/**
 * The shape of a load report (the `--json` output): what each phase
 * measured, the baselines, and the target verdicts.
 *
 * @module
 */
import type { AcceptModeSummary } from "./accept_modes.ts";
import type { ConnectFloorSummary } from "./connect_floor.ts";
import type { PacedFloor } from "./paced_floor.ts";
import type { PrimitiveCosts } from "./primitives.ts";
import type { TransportsSummary } from "./transports.ts";
import type { CdfPoint, LatencySummary } from "./stats.ts";
import type { VerdictRow } from "./verdicts.ts";

/** One traffic phase, summed over agents. */
export interface TrafficSummary {
  /** Connections taking part. */
  connections: number;
  /** Recipients per message (1 for pairs). */
  fanout: number;
  /** Requested delivered messages/s; null = as fast as possible. */
  targetPerSecond: number | null;
  deliveredPerSecond: number;
  sentPerSecond: number;
  latency: LatencySummary;
  cdf: CdfPoint[];
  /** Deliveries still missing after the drain. */
  missing: number;
  sendErrors: number;
  /** Server (or relay) CPU seconds in the measured window; null when /proc was unreadable. */
  serverCpuSeconds: number | null;
  /** Server CPU seconds per 1,000 delivered messages. */
  serverCpuPer1000: number | null;
  /** Delivered messages per server CPU second. */
  deliveredPerServerCpuSecond: number | null;
  /** Client CPU seconds per wall second, summed over agents (1.0 = one full core). */
  clientCores: number;
  /** Server (or relay) CPU seconds per wall second of the measured window. */
  serverCores?: number | null;
  /**
   * The client used ≥ 90% of the cores it had: the phase measured the load
   * generator, so its rate and latency are not server figures.
   */
  clientSaturated?: boolean;
  /**
   * Rate-limited phases: how late sends left after their scheduled time
   * (evenly spaced per sender, staggered across senders). Latency counts
   * from the actual send; this is the generator's own delay it leaves out.
   */
  sendLateness?: LatencySummary;
  /**
   * Seconds per wall second the server's event loop was runnable but waited
   * for its core (other tasks on it; `/proc/<pid>/schedstat`): time added to
   * latency that is not the server's own work.
   */
  serverRunQueueWait?: number;
  /** The same for the load client's event loop(s), summed over agents. */
  clientRunQueueWait?: number;
  /** 1:1 pairs: what became of the copies kept for live deliveries (kept_copies.ts). */
  keptCopies?: KeptCopiesSummary;
  /** 1:1 pairs of a spawned server: the server's own delays over the window (server_delay.ts). */
  serverDelay?: ServerDelaySummary;
}

/** p50 and p99 (ms) of a server histogram's observations in one window. */
export interface DelayQuantiles {
  count: number;
  p50: number;
  p99: number;
}

/** The server's own delays over one window, from `/metrics` (bench/load/server_delay.ts). */
export interface ServerDelaySummary {
  /** Per live delivery: its sender's chunk read → its write (`commucat_route_delay_seconds`). */
  route: DelayQuantiles | null;
  /** The event loop's sampled delay (`commucat_event_loop_delay_seconds`). */
  loop: DelayQuantiles | null;
}

/** The durable-copy window over one phase, from `/healthz` (bench/load/kept_copies.ts). */
export interface KeptCopiesSummary {
  /** Copies written to the offline queue: not acknowledged within the window. */
  written: number;
  /** Copies acknowledged within the window, never written. */
  acknowledgedInWindow: number;
  /** written ÷ (written + acknowledgedInWindow); null when no copy was settled. */
  writtenShare: number | null;
}

/**
 * Scenario `cluster`: the 1:1 pairs on one instance (PostgreSQL + Redis)
 * and across two instances of the same deployment, in one pinned run; or
 * why it did not run.
 */
export type ClusterSummary =
  | {
    /** `server.accept` of both instances (the run's first mode); absent in older reports. */
    accept?: string;
    single: ClusterPhase;
    cross: ClusterPhase;
    /** Offline-queue notices (both instances) delivered as carried on the bus, in the cross phase. */
    busCarriedDelivered: number;
    /** Notices that made the holder read the queue instead (the fallback drain). */
    busQueueReads: number;
    /**
     * `held-copies` bus messages both instances sent in the cross phase (the
     * copies and their answers; each costs a publish and a receive); absent
     * in older reports.
     */
    busMessages?: number;
  }
  | { skipped: string };

/** One phase of scenario `cluster`, with the shared services' CPU over its window. */
export type ClusterPhase = TrafficSummary & {
  /**
   * CPU seconds of every PostgreSQL and Redis process of the machine over
   * the window (other tenants' included); null when unreadable.
   */
  servicesCpuSeconds?: number | null;
};

/** A handshake or reconnect storm. */
export interface StormSummary {
  count: number;
  ok: number;
  failed: number;
  concurrency: number;
  seconds: number;
  /** Completed handshakes per wall second. */
  perSecond: number;
  /** Connect-to-established time. */
  latency: LatencySummary;
  serverCpuSeconds: number | null;
  /** Server CPU milliseconds per completed handshake. */
  serverCpuMsPerHandshake: number | null;
  clientCores: number;
  /** Server CPU seconds per wall second of the storm. */
  serverCores?: number | null;
  /** The client used ≥ 90% of the cores it had (see {@link TrafficSummary.clientSaturated}). */
  clientSaturated?: boolean;
  firstError?: string;
}

/** Server memory with idle established connections. */
export interface IdleSummary {
  connections: number;
  baselineRssBytes: number;
  loadedRssBytes: number;
  bytesPerConnection: number;
  /** Seconds it took to open them. */
  openSeconds: number;
  /**
   * Of `bytesPerConnection`: the V8 heap in use (JS objects: the session's
   * and Deno's JS wrappers; uncollected garbage included) and V8 external
   * memory (ArrayBuffers) per connection; the rest is native (Rust, TLS,
   * malloc). Absent when the server's `/metrics` could not be read.
   */
  heapUsedBytesPerConnection?: number;
  externalBytesPerConnection?: number;
  /**
   * The V8 heap V8 holds (`heapTotal`: used, garbage not yet collected and
   * room it keeps, the young generation grown by the handshakes' allocations
   * included) per connection: what of RSS is V8's pages.
   */
  heapTotalBytesPerConnection?: number;
  /** The server's soft open-files limit (`/proc/<pid>/limits`), when readable. */
  openFilesLimit?: number;
}

/** One target's verdict. */
export interface TargetResult {
  id: string;
  /** What is required, in words. */
  target: string;
  /** What was measured, in words; "not measured" when the phase did not run. */
  measured: string;
  value: number | null;
  threshold: number;
  /** null = not measured. */
  met: boolean | null;
  note?: string;
}

/** One row of a flat profile. */
export interface ProfileRow {
  percent: number;
  dso: string;
  symbol: string;
}

/** Everything one `bench load` run measured. */
export interface LoadReport {
  date: string;
  commit: string | null;
  machine: { cpu: string; cores: number; kernel: string; deno: string; loadAverage: string };
  config: {
    scenarios: string[];
    mode: string;
    pattern: string;
    workers: number;
    pairs: number;
    groups: number;
    groupSize: number;
    handshakes: number;
    concurrency: number;
    idleConnections: number;
    warmupSeconds: number;
    durationSeconds: number;
    window: number;
    target: string;
    /** Cores of the server (and relay) and of the client (`taskset -c` lists); null = not pinned. */
    pinning?: { server: string; client: string } | null;
    /** Cores the client side may use (its pinned cores, or the whole machine). */
    clientCoresAvailable?: number;
    /** New devices of the unmeasured warm-up before the handshake storms. */
    stormWarmup?: number;
    /** `--accept`: the server's accept mode(s) (`server.accept`). */
    accept?: string;
    /** `--server-v8-flags`: extra V8 flags of the spawned servers. */
    serverV8Flags?: string[];
    /**
     * The clients' WebSocket as used (`--client-websocket`, or `deno` when `deno-nodelay`'s shim
     * could not be built): `deno-nodelay` and `nodelay` TCP_NODELAY on; `deno`: Nagle on.
     */
    clientWebSocket?: string;
  };
  /** How the client load ran, in words. */
  clientSide: string;
  primitives: PrimitiveCosts | null;
  relay: { max: TrafficSummary; half: TrafficSummary | null } | null;
  /**
   * `--tls-baseline`: the relay over TLS, and over TLS with CommuCat's acks
   * (`acked`), the latter also paced at the rate of each accept mode's 1:1
   * 50% phase (`ackedPaced`: the p99 floors, paced_floor.ts). `ackedHalf`:
   * older reports' one floor, paced at the first mode's rate only. And the
   * relay with acks behind a raw TCP → loopback pump (`ackedPumped`,
   * relay_pump.ts "minimal"): the 1:1 floor of the guarded accept mode,
   * whose loopback pump is native cost too.
   */
  relayTls: {
    max: TrafficSummary;
    acked?: TrafficSummary;
    ackedPaced?: PacedFloor[];
    ackedHalf?: TrafficSummary;
    ackedPumped?: TrafficSummary;
  } | null;
  pairs: { max: TrafficSummary; half: TrafficSummary | null } | null;
  fanout: { max: TrafficSummary } | null;
  /** The pairs over three paths each (scenario `multipath`). */
  multipath?: { paths: string; max: TrafficSummary } | null;
  /** Cross-instance routing vs one instance (scenario `cluster`). */
  cluster?: ClusterSummary | null;
  /** 1:1 calls: VoiceFrames through the SFU (scenario `sfu`). */
  sfu?: { max: TrafficSummary } | null;
  handshake: StormSummary | null;
  /** With several storm patterns (`--storm-patterns`): one storm each, in order. */
  handshakeByPattern?: { pattern: string; storm: StormSummary }[];
  reconnect: StormSummary | null;
  /** Bulk throughput, direct TLS vs the Shadowsocks listener (scenario `transports`). */
  transports?: TransportsSummary | null;
  idle: IdleSummary | null;
  /** The handshake floor: new TLS WebSocket connections to the raw relay (connect_floor.ts). */
  relayConnect?: ConnectFloorSummary | null;
  /**
   * The guarded accept mode's handshake floor: the same storm to the relay
   * behind the minimal raw TCP → loopback pump (relay_pump.ts), whose
   * loopback dial and per-flight read and write are native cost too.
   * Measured when a guarded server is.
   */
  relayConnectPumped?: ConnectFloorSummary | null;
  /** The floor: the same idle connections held by the raw TLS relay (Deno's WebSocket + TLS). */
  relayIdle?: IdleSummary | null;
  /**
   * The guarded accept mode's memory floor: the same idle connections held
   * by the relay behind the minimal raw TCP → loopback pump (relay_pump.ts,
   * its buffer per direction the 256 B a guarded pump's idle read waits on):
   * two more sockets, their Deno wrappers and a pending read each way per
   * connection. Measured when a guarded server is; null when its open files
   * would not fit the relay's `ulimit -n` (the run's notes say so).
   */
  relayIdlePumped?: IdleSummary | null;
  /** `--accept both`: the idle, handshake and pairs phases against a direct-mode server. */
  acceptModes?: AcceptModeSummary | null;
  targets: TargetResult[];
  /** Each budget against its native floor (verdicts.ts); absent in reports of older runs. */
  verdicts?: VerdictRow[];
  /** perf profiles of the server, one per recorded phase (handshake storm, 1:1 max). */
  profiles: { phase: string; file: string; top: ProfileRow[] }[];
  notes: string[];
}
