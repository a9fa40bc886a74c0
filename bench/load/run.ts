/**
 * One `commucat bench load` run: baselines (handshake primitives, raw
 * relay), then the CommuCat server (spawned, or one already running) under
 * each scenario, sampling the server's CPU and memory from /proc, and the
 * target verdicts.
 *
 * @module
 */
import type { ConnectMode } from "../../src/transport/mod.ts";
import type { AgentCommand, OpenResult, TargetJson } from "./agent.ts";
import { type AgentHandle, combinedProgress, localAgent, spawnAgent, split } from "./fleet.ts";
import { type AcceptChoice, acceptEnv, measureDirectMode } from "./accept_modes.ts";
import { relayConnectStorm } from "./connect_floor.ts";
import { type ClusterServices, clusterServices, measureCluster } from "./cluster_scenario.ts";
import { cpuCount, type CpuPlan, pinProcess } from "./pin.ts";
import { measureHandshakePrimitives } from "./primitives.ts";
import { canReadProc, readCpuSeconds, readRssBytes, readRunQueueWaitSeconds } from "./procfs.ts";
import type {
  IdleSummary,
  LoadReport,
  ProfileRow,
  StormSummary,
  TrafficSummary,
} from "./report_types.ts";
import {
  parsePerfReport,
  perfAvailable,
  perfRecord,
  readServerHeap,
  spawnCommuCat,
  type SpawnedServer,
  spawnRelay,
} from "./spawn.ts";
import { LatencyHistogram } from "./stats.ts";
import { evaluateTargets } from "./targets.ts";
import type { PhaseResult, PhaseSpec } from "./traffic.ts";
import {
  benchShadowsocks,
  measureTransports,
  shadowsocksEnv,
  TRANSPORT_MESSAGE_BYTES,
  TRANSPORT_WINDOW,
} from "./transports.ts";

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

/** Handshakes of the unmeasured warm-up before the storms. */
const STORM_WARMUP = 200;

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
  /** Record the server with `perf` during the storms and the 1:1 max phase, into this directory. */
  profileDir?: string;
  /**
   * Server (and relay) on `server` cores, this process and the workers on
   * `client` cores (`taskset`); null = not pinned.
   */
  pin?: CpuPlan | null;
  /** `server.accept` of the spawned server; `both`: the main phases again in direct mode. */
  accept?: AcceptChoice;
  /** PostgreSQL and Redis of scenario `cluster` (else the COMMUCAT_TEST_* variables). */
  cluster?: ClusterServices;
  /** Progress line sink (the CLI rewrites one line on stderr). */
  progress: (line: string) => void;
}

interface PhaseOutcome {
  summary: TrafficSummary;
}

function machineInfo(): LoadReport["machine"] {
  let cpu = "unknown CPU";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  const [l1, l5, l15] = Deno.loadavg();
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    loadAverage: `${l1.toFixed(2)} ${l5.toFixed(2)} ${l15.toFixed(2)}`,
  };
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `target` with the server's ML-DSA-65 key from its server-info, so hybrid
 * patterns can pin it (unchanged when the server offers no post-quantum).
 */
async function withPqPin(target: TargetJson): Promise<TargetJson> {
  if (target.pqPublicHex) return target;
  const client = Deno.createHttpClient({ caCerts: [target.certificatePem] });
  try {
    const response = await fetch(`${target.url}/api/server-info`, { client });
    const info = await response.json() as { post_quantum?: { signing_public?: string | null } };
    const pin = info.post_quantum?.signing_public;
    return pin ? { ...target, pqPublicHex: pin } : target;
  } catch {
    return target;
  } finally {
    client.close();
  }
}

/** Runs the load test described by `o`. */
export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const notes: string[] = [];
  const date = new Date().toISOString().slice(0, 10);
  const machine = machineInfo();
  const commit = await gitCommit();
  const pin = o.pin ?? null;
  // The client side (this process: the local agent, or the workers' conductor) on its cores.
  if (pin) await pinProcess(pin.client);
  const clientCapacity = pin ? cpuCount(pin.client) : machine.cores;
  /** The client used ≥ 90% of the cores it had. */
  const saturated = (clientCores: number) => clientCores >= 0.9 * clientCapacity;
  const agents: AgentHandle[] = o.workers > 0
    ? Array.from({ length: o.workers }, () => spawnAgent(pin?.client ?? null))
    : [localAgent()];
  const clientSide = o.workers > 0
    ? `${o.workers} worker process${
      o.workers > 1 ? "es" : ""
    } (Deno.Command of bench/load/worker.ts)`
    : "one process (the CLI itself)";
  let channelBase = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);

  /** Runs `make(i, share)` on every agent with its share of `total`. */
  const onAll = <T>(
    total: number,
    make: (i: number, share: number) => AgentCommand | null,
    progress?: (done: number, failed: number) => void,
  ): Promise<T[]> => {
    const shares = split(total, agents.length);
    const hooks = progress ? combinedProgress(agents.length, progress) : [];
    return Promise.all(
      agents.map((agent, i) => {
        const command = make(i, shares[i]);
        return command === null ? Promise.resolve(null as T) : agent.run<T>(command, hooks[i]);
      }),
    );
  };

  const mergeOpen = (results: OpenResult[]): OpenResult & { latency: LatencyHistogram } => {
    const latency = new LatencyHistogram();
    for (const r of results) latency.merge(r.handshakeLatency);
    return {
      ok: results.reduce((s, r) => s + r.ok, 0),
      failed: results.reduce((s, r) => s + r.failed, 0),
      seconds: Math.max(...results.map((r) => r.seconds)),
      handshakeLatency: latency.toJSON(),
      firstError: results.find((r) => r.firstError)?.firstError,
      latency,
    };
  };

  /** CPU seconds of `pid` (summed over several: the instances of scenario `cluster`). */
  const cpuOf = (pid: number | number[] | undefined): number | null => {
    const pids = pid === undefined ? [] : typeof pid === "number" ? [pid] : pid;
    if (pids.length === 0 || !pids.every(canReadProc)) return null;
    return pids.reduce((sum, p) => sum + readCpuSeconds(p), 0);
  };
  const clientCpu = () => agents.reduce((s, a) => s + (cpuOf(a.pid) ?? 0), 0);

  /** Opens `o.pairs` 1:1 pairs across the agents on fresh channels (`extra`: where, how). */
  const openPairs = async (
    label: string,
    extra: Partial<Extract<AgentCommand, { cmd: "openGroups" }>> & { target: TargetJson },
  ): Promise<void> => {
    const base = channelBase;
    channelBase += o.pairs + 1;
    const opened = mergeOpen(
      await onAll<OpenResult>(
        o.pairs,
        (i, share) =>
          share === 0 ? null : {
            cmd: "openGroups",
            mode: o.mode,
            pattern: o.pattern,
            groups: share,
            groupSize: 2,
            channelBase: base + i * (Math.ceil(o.pairs / agents.length) + 1),
            concurrency: o.concurrency,
            ...extra,
          },
        (done, failed) => o.progress(`${label}: ${done}/${o.pairs * 2} sessions, ${failed} failed`),
      ),
    );
    if (opened.failed > 0) notes.push(`${label}: ${opened.failed} sessions failed to open`);
  };

  /** Runs one traffic phase on every agent, sampling `serverPid`'s CPU over the measured window. */
  const phase = async (
    label: string,
    serverPid: number | number[] | undefined,
    ratePerSecond: number | null,
    connections: number,
    onMeasure?: { start(): void; stop(): Promise<void> },
  ): Promise<PhaseOutcome> => {
    const spec = (share: number | null): PhaseSpec => ({
      ratePerSecond: share,
      window: ratePerSecond === null ? o.window : Math.max(o.window, 64),
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      drainMs: 3_000,
    });
    let cpu0: number | null = null;
    let cpu1: number | null = null;
    // Run-queue wait of the server's and the clients' event loops: time another task held their core.
    // Summed over the processes (cluster: several instances; --workers: several agents).
    const waitSum = (pids: number[]) =>
      pids.length === 0 ? null : pids.reduce<number | null>((sum, pid) => {
        const w = readRunQueueWaitSeconds(pid);
        return sum === null || w === null ? null : sum + w;
      }, 0);
    const waitOf = () => ({
      server: waitSum(
        serverPid === undefined ? [] : typeof serverPid === "number" ? [serverPid] : serverPid,
      ),
      client: waitSum(agents.map((a) => a.pid)),
    });
    let wait0: ReturnType<typeof waitOf> | null = null;
    let wait1: ReturnType<typeof waitOf> | null = null;
    const started = performance.now();
    const ticker = setInterval(() => {
      const t = (performance.now() - started) / 1000;
      const stage = t < o.warmupMs / 1000 ? "warm-up" : "measuring";
      o.progress(`${label}: ${stage} ${t.toFixed(1)} s of ${(o.warmupMs + o.durationMs) / 1000} s`);
    }, 250);
    const t0 = setTimeout(() => {
      cpu0 = cpuOf(serverPid);
      wait0 = waitOf();
      onMeasure?.start();
    }, o.warmupMs);
    const t1 = setTimeout(() => {
      cpu1 = cpuOf(serverPid);
      wait1 = waitOf();
    }, o.warmupMs + o.durationMs);
    const shares = ratePerSecond === null ? null : split(Math.round(ratePerSecond), agents.length);
    const results = await Promise.all(
      agents.map((agent, i) =>
        agent.run<PhaseResult>({ cmd: "phase", spec: spec(shares ? shares[i] : null) })
      ),
    );
    clearInterval(ticker);
    clearTimeout(t0);
    clearTimeout(t1);
    await onMeasure?.stop();
    const latency = new LatencyHistogram();
    for (const r of results) latency.merge(r.latency);
    const lateness = new LatencyHistogram();
    for (const r of results) if (r.sendLateness) lateness.merge(r.sendLateness);
    const seconds = o.durationMs / 1000;
    const delivered = results.reduce((s, r) => s + r.delivered, 0);
    const serverCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    const fanoutGuess = results.reduce((s, r) => s + r.sent, 0);
    const clientCores = results.reduce((s, r) => s + r.clientCpuSeconds, 0) / seconds;
    if (saturated(clientCores)) {
      notes.push(
        `"${label}": the client used ${clientCores.toFixed(2)} of its ${clientCapacity} core(s) ` +
          "(saturated): its rate and latency measure the load generator, not the server.",
      );
    }
    return {
      summary: {
        connections,
        fanout: fanoutGuess > 0 ? Math.round(delivered / fanoutGuess) : 0,
        targetPerSecond: ratePerSecond,
        deliveredPerSecond: delivered / seconds,
        sentPerSecond: fanoutGuess / seconds,
        latency: latency.summary(),
        cdf: latency.cdf(),
        missing: results.reduce((s, r) => s + r.missing, 0),
        sendErrors: results.reduce((s, r) => s + r.sendErrors, 0),
        serverCpuSeconds,
        serverCpuPer1000: serverCpuSeconds !== null && delivered > 0
          ? serverCpuSeconds / delivered * 1000
          : null,
        deliveredPerServerCpuSecond: serverCpuSeconds ? delivered / serverCpuSeconds : null,
        clientCores,
        serverCores: serverCpuSeconds !== null ? serverCpuSeconds / seconds : null,
        clientSaturated: saturated(clientCores),
        sendLateness: ratePerSecond === null ? undefined : lateness.summary(),
        ...runQueueWait(wait0, wait1, seconds),
      },
    };
  };

  let perfChecked: boolean | null = null;
  /** True when `--profile` was asked for, there is a pid, and perf works (noted once if not). */
  const canProfile = async (pid: number | undefined): Promise<boolean> => {
    if (o.profileDir === undefined || pid === undefined) return false;
    if (perfChecked === null) {
      perfChecked = await perfAvailable();
      if (!perfChecked) notes.push("--profile: perf is not available here; no profile recorded.");
    }
    return perfChecked;
  };
  const keepProfile = (phase: string, name: string, text: string | null) => {
    if (!text) return;
    const top: ProfileRow[] = parsePerfReport(text, 30);
    report.profiles.push({ phase, file: `${o.profileDir}/${name}.txt`, top });
  };

  /** A storm: `run` opens sessions on every agent; CPU is sampled around it. */
  const storm = async (
    label: string,
    serverPid: number | undefined,
    count: number,
    run: (progress: (done: number, failed: number) => void) => Promise<OpenResult[]>,
    profileName?: string,
  ): Promise<StormSummary> => {
    const recording = profileName && await canProfile(serverPid)
      ? perfRecord(serverPid!, o.profileDir!, profileName)
      : null;
    const cpu0 = cpuOf(serverPid);
    const client0 = clientCpu();
    const started = performance.now();
    const results = await run((done, failed) => {
      const s = (performance.now() - started) / 1000;
      o.progress(`${label}: ${done}/${count} ok, ${failed} failed, ${(done / s).toFixed(0)}/s`);
    });
    const wall = (performance.now() - started) / 1000;
    const cpu1 = cpuOf(serverPid);
    if (recording) keepProfile(label, profileName!, await recording.stop());
    const merged = mergeOpen(results);
    const serverCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    const clientCores = (clientCpu() - client0) / wall;
    if (saturated(clientCores)) {
      notes.push(
        `"${label}": the client used ${clientCores.toFixed(2)} of its ${clientCapacity} core(s) ` +
          "(saturated): its handshakes/s measure the load generator, not the server.",
      );
    }
    return {
      count,
      ok: merged.ok,
      failed: merged.failed,
      concurrency: o.concurrency,
      seconds: merged.seconds,
      perSecond: merged.ok / merged.seconds,
      latency: merged.latency.summary(),
      serverCpuSeconds,
      serverCpuMsPerHandshake: serverCpuSeconds !== null && merged.ok > 0
        ? serverCpuSeconds / merged.ok * 1000
        : null,
      clientCores,
      serverCores: serverCpuSeconds !== null ? serverCpuSeconds / wall : null,
      clientSaturated: saturated(clientCores),
      firstError: merged.firstError,
    };
  };

  /**
   * Server memory per idle connection: `open` 200 warm connections, RSS of
   * `pid`, then `--idle-connections` more, 3 s to settle, RSS again.
   */
  const measureIdle = async (
    pid: number,
    open: (count: number, progress?: (done: number, failed: number) => void) => Promise<
      OpenResult[]
    >,
    label: string,
    heap?: () => Promise<{ heapUsedBytes: number; externalBytes: number } | null>,
  ): Promise<IdleSummary> => {
    await open(Math.min(200, o.idleConnections));
    await sleep(2_000);
    const baseline = readRssBytes(pid);
    const heap0 = await heap?.() ?? null;
    const started = performance.now();
    const opened = mergeOpen(
      await open(
        o.idleConnections,
        (done, failed) =>
          o.progress(`${label}: ${done}/${o.idleConnections} open, ${failed} failed`),
      ),
    );
    const openSeconds = (performance.now() - started) / 1000;
    o.progress(`${label}: settling`);
    await sleep(3_000);
    const loaded = readRssBytes(pid);
    const heap1 = await heap?.() ?? null;
    if (opened.failed > 0) notes.push(`${label}: ${opened.failed} failed: ${opened.firstError}`);
    const per = (a: number, b: number) => opened.ok > 0 ? (b - a) / opened.ok : NaN;
    return {
      ...(heap0 && heap1
        ? {
          heapUsedBytesPerConnection: per(heap0.heapUsedBytes, heap1.heapUsedBytes),
          externalBytesPerConnection: per(heap0.externalBytes, heap1.externalBytes),
        }
        : {}),
      connections: opened.ok,
      baselineRssBytes: baseline,
      loadedRssBytes: loaded,
      bytesPerConnection: opened.ok > 0 ? (loaded - baseline) / opened.ok : NaN,
      openSeconds,
    };
  };

  const report: Omit<LoadReport, "targets"> = {
    date,
    commit,
    machine,
    config: {
      scenarios: o.scenarios,
      mode: o.mode,
      pattern: o.pattern,
      workers: o.workers,
      pairs: o.pairs,
      groups: o.groups,
      groupSize: o.groupSize,
      handshakes: o.handshakes,
      concurrency: o.concurrency,
      idleConnections: o.idleConnections,
      warmupSeconds: o.warmupMs / 1000,
      durationSeconds: o.durationMs / 1000,
      window: o.window,
      target: o.external ? o.external.target.url : "spawned commucat serve (temp data dir, SQLite)",
      pinning: pin,
      clientCoresAvailable: clientCapacity,
      stormWarmup: o.scenarios.includes("handshake")
        ? Math.min(STORM_WARMUP, o.handshakes)
        : undefined,
      accept: o.external ? undefined : o.accept ?? "guarded",
    },
    clientSide,
    primitives: null,
    relay: null,
    relayTls: null,
    pairs: null,
    fanout: null,
    handshake: null,
    reconnect: null,
    idle: null,
    profiles: [],
    notes,
  };
  const has = (s: Scenario) => o.scenarios.includes(s);
  let server: SpawnedServer | null = null;
  const spawnServer = (env: Record<string, string>) =>
    spawnCommuCat({
      v8Flags: o.profileDir ? ["--perf-basic-prof", "--interpreted-frames-native-stack"] : [],
      cpus: pin?.server ?? null,
      env,
    });

  try {
    // ---- baselines ----
    if (o.baseline) {
      o.progress("handshake primitives: measuring");
      report.primitives = measureHandshakePrimitives();
    }
    if (o.baseline && has("pairs")) {
      const relay = await spawnRelay(undefined, pin?.server ?? null);
      try {
        await onAll<OpenResult>(
          o.pairs,
          (_, share) =>
            share === 0
              ? null
              : { cmd: "openRawGroups", url: relay.url, groups: share, groupSize: 2 },
        );
        const max = await phase("raw relay, max", relay.pid, null, o.pairs * 2);
        const half = await phase(
          "raw relay, 50%",
          relay.pid,
          max.summary.deliveredPerSecond / 2,
          o.pairs * 2,
        );
        report.relay = { max: max.summary, half: half.summary };
      } finally {
        await onAll(0, () => ({ cmd: "closeGroups" }));
        await relay.stop();
      }
    }

    // ---- the server ----
    const shadowsocks = benchShadowsocks();
    let target: TargetJson;
    let pid: number | undefined;
    if (o.external) {
      target = o.external.target;
      pid = o.external.pid;
      if (pid === undefined) notes.push("No --server-pid: server CPU and memory were not sampled.");
    } else {
      o.progress("starting commucat serve");
      // Scenario `transports` also needs the Shadowsocks listener.
      server = await spawnServer({
        ...(has("transports") ? shadowsocksEnv(shadowsocks) : {}),
        ...acceptEnv(o.accept === "direct" ? "direct" : "guarded"),
      });
      target = server.target;
      pid = server.pid;
    }
    if (pid !== undefined && !canReadProc(pid)) {
      notes.push(`/proc/${pid} is unreadable: server CPU and memory were not sampled.`);
      pid = undefined;
    }
    target = await withPqPin(target);

    if (o.baseline && o.tlsBaseline && has("pairs") && server) {
      const relay = await spawnRelay(server.tls, pin?.server ?? null);
      try {
        await onAll<OpenResult>(o.pairs, (_, share) =>
          share === 0 ? null : {
            cmd: "openRawGroups",
            url: relay.url,
            caCerts: [target.certificatePem],
            groups: share,
            groupSize: 2,
          });
        report.relayTls = {
          max: (await phase("raw TLS relay, max", relay.pid, null, o.pairs * 2)).summary,
        };
      } finally {
        await onAll(0, () => ({ cmd: "closeGroups" }));
        await relay.stop();
      }
    }

    // The handshake floor: new TLS WebSocket connections to Deno's own relay, same certificate.
    if (o.baseline && has("handshake") && server) {
      const relay = await spawnRelay(server.tls, pin?.server ?? null);
      try {
        report.relayConnect = await relayConnectStorm({
          url: relay.url,
          caCerts: [target.certificatePem],
          count: o.handshakes,
          concurrency: o.concurrency,
          relayCpu: () => cpuOf(relay.pid),
          progress: (done, failed) =>
            o.progress(`relay connect storm: ${done}/${o.handshakes} ok, ${failed} failed`),
        });
      } finally {
        await relay.stop();
      }
    }

    // The memory floor: the same idle connections on Deno's own WebSocket + TLS (a fresh relay).
    if (o.baseline && o.idleConnections > 0 && server) {
      const relay = await spawnRelay(server.tls, pin?.server ?? null);
      try {
        const open = (count: number, progress?: (done: number, failed: number) => void) =>
          onAll<OpenResult>(count, (_, share) =>
            share === 0 ? null : {
              cmd: "openRawIdle",
              url: relay.url,
              caCerts: [target.certificatePem],
              count: share,
              concurrency: o.concurrency,
            }, progress);
        report.relayIdle = await measureIdle(relay.pid, open, "raw TLS relay idle");
      } finally {
        await onAll(0, () => ({ cmd: "closeGroups" }));
        await relay.stop();
      }
    }

    // Idle memory first, while the server's heap has not yet been grown by traffic.
    const idleOn = async (target: TargetJson, pid: number, spawned: SpawnedServer | null) => {
      const open = (count: number, progress?: (done: number, failed: number) => void) =>
        onAll<OpenResult>(count, (_, share) =>
          share === 0 ? null : {
            cmd: "openIdle",
            target,
            mode: o.mode,
            count: share,
            concurrency: o.concurrency,
          }, progress);
      const idle = await measureIdle(
        pid,
        open,
        "idle connections",
        spawned ? () => readServerHeap(spawned) : undefined,
      );
      await onAll(0, () => ({ cmd: "closeIdle" }));
      await sleep(1_000);
      return idle;
    };
    if (o.idleConnections > 0 && pid !== undefined) report.idle = await idleOn(target, pid, server);

    /** The storm of each pattern (after an unmeasured warm-up) against `target`. */
    const stormsOn = async (
      target: TargetJson,
      pid: number | undefined,
      patterns: string[],
      suffix = "",
    ) => {
      // Unmeasured warm-up, as the traffic phases have: without it the first storm also
      // timed the JIT compiling the handshake path (~20% more CPU per handshake).
      const warm = Math.min(STORM_WARMUP, o.handshakes);
      const command = (pattern: string, count: number): AgentCommand => ({
        cmd: "handshakeStorm",
        target,
        mode: o.mode,
        pattern,
        count,
        concurrency: Math.max(1, Math.round(o.concurrency / agents.length)),
      });
      await onAll<OpenResult>(
        warm,
        (_, share) => share === 0 ? null : command(patterns[0], share),
        (done) => o.progress(`handshake warm-up: ${done}/${warm}`),
      );
      const results: { pattern: string; storm: StormSummary }[] = [];
      for (const pattern of patterns) {
        const result = await storm(
          `handshake storm${suffix}${patterns.length > 1 ? ` ${pattern}` : ""}`,
          pid,
          o.handshakes,
          (progress) =>
            onAll<OpenResult>(
              o.handshakes,
              (_, share) => share === 0 ? null : command(pattern, share),
              progress,
            ),
          `handshake${suffix}`,
        );
        results.push({ pattern, storm: result });
      }
      return results;
    };
    if (has("handshake")) {
      const patterns = o.stormPatterns?.length ? o.stormPatterns : [o.pattern];
      const results = await stormsOn(target, pid, patterns);
      report.handshake = results[0].storm;
      if (patterns.length > 1) report.handshakeByPattern = results;
    }

    /** 1:1 max, then 50% of it, on pairs already open (`--profile`: each measured window). */
    const pairsOn = async (pid: number | undefined, suffix: string) => {
      const profiled = async (name: string) => {
        const state: { recording: ReturnType<typeof perfRecord> | null; text: string | null } = {
          recording: null,
          text: null,
        };
        const hooks = await canProfile(pid)
          ? {
            start: () => (state.recording = perfRecord(pid!, o.profileDir!, name)),
            stop: async () => {
              state.text = await state.recording?.stop() ?? null;
            },
          }
          : undefined;
        return { hooks, text: () => state.text };
      };
      const maxProfile = await profiled(`pairs-max${suffix}`);
      const max = await phase(`pairs${suffix}, max`, pid, null, o.pairs * 2, maxProfile.hooks);
      keepProfile(`pairs${suffix}, max`, `pairs-max${suffix}`, maxProfile.text());
      const halfProfile = await profiled(`pairs-half${suffix}`);
      const half = await phase(
        `pairs${suffix}, 50%`,
        pid,
        max.summary.deliveredPerSecond / 2,
        o.pairs * 2,
        halfProfile.hooks,
      );
      keepProfile(`pairs${suffix}, 50%`, `pairs-half${suffix}`, halfProfile.text());
      return { max: max.summary, half: half.summary };
    };
    if (has("pairs") || has("reconnect")) {
      await openPairs("pairs", { target });
      if (has("pairs")) report.pairs = await pairsOn(pid, "");
      if (has("reconnect")) {
        report.reconnect = await storm(
          "reconnect storm",
          pid,
          o.pairs * 2,
          (progress) =>
            onAll<OpenResult>(0, () => ({
              cmd: "reconnectStorm",
              concurrency: Math.max(1, Math.round(o.concurrency / agents.length)),
            }), progress),
          "reconnect",
        );
      }
      await onAll(0, () => ({ cmd: "closeGroups" }));
    }

    if (o.accept === "both" && server) {
      report.acceptModes = await measureDirectMode({
        idle: o.idleConnections > 0 && pid !== undefined,
        handshake: has("handshake"),
        pairs: has("pairs"),
      }, {
        spawn: spawnServer,
        pin: withPqPin,
        idle: (t, spawned) => idleOn(t, spawned.pid, spawned),
        handshake: async (t, p) => (await stormsOn(t, p, [o.pattern], "-direct"))[0].storm,
        pairs: async (t, p, suffix) => {
          await openPairs(`pairs${suffix}`, { target: t });
          try {
            return await pairsOn(p, suffix);
          } finally {
            await onAll(0, () => ({ cmd: "closeGroups" }));
          }
        },
        progress: o.progress,
      });
    }

    if (has("multipath")) {
      // The pairs again, each session over three paths (websocket + binary + sse: RaptorQ
      // with overhead 0.55); compared with the single-path pairs phase of the same run.
      await openPairs("multipath pairs", { target, mode: "websocket", paths: ["binary", "sse"] });
      report.multipath = {
        paths: "websocket+binary+sse",
        max: (await phase("multipath pairs, max", pid, null, o.pairs * 2)).summary,
      };
      await onAll(0, () => ({ cmd: "closeGroups" }));
    }

    if (has("cluster")) {
      report.cluster = await measureCluster({
        services: clusterServices(o.cluster ?? {}),
        serverCpus: pin?.server ?? null,
        openPairs: (label, targets) => openPairs(label, { target: targets[0], targets }),
        closePairs: () => onAll(0, () => ({ cmd: "closeGroups" })).then(() => {}),
        phase: async (label, pids) => (await phase(label, pids, null, o.pairs * 2)).summary,
        progress: o.progress,
      });
    }

    if (has("sfu")) {
      // 1:1 calls: the same pairs, 100 B voice payloads (+3 B media header, an
      // Opus packet's size at 32–64 kbit/s) through call state and the SFU.
      await openPairs("sfu", { target, media: true });
      report.sfu = { max: (await phase("sfu voice pairs, max", pid, null, o.pairs * 2)).summary };
      await onAll(0, () => ({ cmd: "closeGroups" }));
    }

    if (has("fanout")) {
      const base = channelBase;
      channelBase += o.groups + 1;
      await onAll<OpenResult>(
        o.groups,
        (i, share) =>
          share === 0 ? null : {
            cmd: "openGroups",
            target,
            mode: o.mode,
            pattern: o.pattern,
            groups: share,
            groupSize: o.groupSize,
            channelBase: base + i * (Math.ceil(o.groups / agents.length) + 1),
            concurrency: o.concurrency,
          },
        (done, failed) =>
          o.progress(`fanout: ${done}/${o.groups * o.groupSize} sessions, ${failed} failed`),
      );
      report.fanout = {
        max: (await phase("fanout, max", pid, null, o.groups * o.groupSize)).summary,
      };
      await onAll(0, () => ({ cmd: "closeGroups" }));
    }
    if (has("transports")) {
      if (!server) {
        notes.push(
          "Scenario transports needs a spawned server (its Shadowsocks listener): skipped.",
        );
      } else {
        report.transports = await measureTransports({
          target,
          shadowsocks,
          serverPid: pid,
          messageBytes: TRANSPORT_MESSAGE_BYTES,
          window: TRANSPORT_WINDOW,
          warmupMs: o.warmupMs,
          durationMs: o.durationMs,
          progress: o.progress,
        }, channelBase);
        channelBase += 2;
      }
    }
  } finally {
    o.progress("stopping");
    await Promise.all(agents.map((a) => a.close()));
    await server?.stop();
    if (server) await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  return { ...report, targets: evaluateTargets(report) };
}

/** Run-queue wait per wall second over a measured window, for whichever side was readable. */
function runQueueWait(
  before: { server: number | null; client: number | null } | null,
  after: { server: number | null; client: number | null } | null,
  seconds: number,
): { serverRunQueueWait?: number; clientRunQueueWait?: number } {
  const share = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined ? undefined : (b - a) / seconds;
  return {
    serverRunQueueWait: share(before?.server, after?.server),
    clientRunQueueWait: share(before?.client, after?.client),
  };
}
