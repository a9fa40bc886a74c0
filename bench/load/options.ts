/**
 * What a `commucat bench load` run can be told: the scenarios and the
 * options. Its own module so the phase modules can read the options without
 * importing run.ts (which imports them).
 *
 * @module
 */
import type { ConnectMode } from "../../src/transport/mod.ts";
import type { AcceptChoice } from "./accept_modes.ts";
import type { ClientWebSocket, TargetJson } from "./agent.ts";
import type { ClusterServices } from "./cluster_scenario.ts";
import type { CpuPlan } from "./pin.ts";

/** The scenarios. */
export const SCENARIOS = [
  "pairs",
  "fanout",
  "reconnect",
  "handshake",
  "sfu",
  "transports",
  "multipath",
  "cluster",
] as const;
/** One scenario. */
export type Scenario = typeof SCENARIOS[number];

/** Everything a run can be told. */
export interface LoadOptions {
  scenarios: Scenario[];
  mode: ConnectMode;
  pattern: string;
  /**
   * Patterns of the handshake storm, one storm each (e.g. XK, XKhfs, IK,
   * IKhfs: classical beside hybrid in one run); empty = just `pattern`.
   */
  stormPatterns?: string[];
  /** 0 = the client load runs in this process; N = in N worker processes. */
  workers: number;
  pairs: number;
  groups: number;
  groupSize: number;
  handshakes: number;
  concurrency: number;
  idleConnections: number;
  warmupMs: number;
  durationMs: number;
  window: number;
  /** Measure the raw relay and the handshake primitives. */
  baseline: boolean;
  /** Also measure a TLS relay (same certificate as the server). */
  tlsBaseline: boolean;
  /** A server that is already running (no spawn); `pid` enables CPU/memory sampling. */
  external?: { target: TargetJson; pid?: number };
  /** Write each traffic phase's deliveries over time here (`<phase>.json`, bench/load/timeline.ts). */
  timelineDir?: string;
  /** Record the server with `perf` during the storms and the 1:1 max phase, into this directory. */
  profileDir?: string;
  /**
   * The load clients' WebSocket (`--client-websocket`; default `deno-nodelay`, agent.ts): with
   * `deno-nodelay` the agents run in ≥ 1 worker process preloading the TCP_NODELAY shim.
   */
  clientWebSocket?: ClientWebSocket;
  /** Extra V8 flags of every spawned server (`--server-v8-flags`), e.g. `--trace-gc`. */
  serverV8Flags?: string[];
  /** Append every spawned server's output (stderr; stdout after start-up) here (`--server-log`). */
  serverLog?: string;
  /**
   * Server (and relay) on `server` cores, this process and the workers on
   * `client` cores (`taskset`); null = not pinned.
   */
  pin?: CpuPlan | null;
  /** `server.accept` of the spawned server; `both`: the main phases again in direct mode. */
  accept?: AcceptChoice;
  /** PostgreSQL and Redis of scenario `cluster` (else the COMMUCAT_TEST_* variables). */
  cluster?: ClusterServices;
  /** Payload bytes of every traffic phase (default 100, traffic.ts; bench/pump_floor.ts sets it). */
  payloadBytes?: number;
  /** Progress line sink (the CLI rewrites one line on stderr). */
  progress: (line: string) => void;
}
