/**
 * One `commucat bench load` run: baselines (handshake primitives, raw
 * relay), then the CommuCat server (spawned, or one already running) under
 * each scenario, sampling the server's CPU and memory from /proc, and the
 * target verdicts. This module keeps the order of the phases and assembles
 * the report; the phases are in baselines.ts, idle_memory.ts, storms.ts,
 * traffic_phases.ts, accept_modes.ts, cluster_scenario.ts and transports.ts.
 *
 * @module
 */
import { measureDirectMode } from "./accept_modes.ts";
import type { ClientWebSocket } from "./agent.ts";
import { startClientSide } from "./client_side.ts";
import { clusterServices, measureCluster } from "./cluster_scenario.ts";
import {
  rawRelay,
  relayConnectFloor,
  relayIdleFloor,
  tlsRelay,
  tlsRelayAckedAt,
} from "./baselines.ts";
import { serverIdle } from "./idle_memory.ts";
import { gitCommit, machineInfo } from "./machine.ts";
import { addPacedFloor } from "./paced_floor.ts";
import type { LoadOptions, Scenario } from "./options.ts";
import { cpuCount, pinProcess } from "./pin.ts";
import { measureHandshakePrimitives } from "./primitives.ts";
import type { LoadReport } from "./report_types.ts";
import { RunContext } from "./run_context.ts";
import { spawnServer, startServer, withPqPin } from "./server_under_test.ts";
import type { SpawnedServer } from "./spawn.ts";
import { handshakeStorms, reconnectStorm, STORM_WARMUP } from "./storms.ts";
import { evaluateTargets } from "./targets.ts";
import { judgeBudgets } from "./verdicts.ts";
import {
  fanoutGroups,
  multipathPairs,
  openPairs,
  pairsMaxHalf,
  pairsPaced,
  profiled,
  sfuPairs,
} from "./traffic_phases.ts";
import { measureTraffic } from "./traffic_window.ts";
import {
  benchShadowsocks,
  measureTransports,
  shadowsocksEnv,
  TRANSPORT_MESSAGE_BYTES,
  TRANSPORT_WINDOW,
} from "./transports.ts";

export { type LoadOptions, type Scenario, SCENARIOS } from "./options.ts";

/** The report's `config`: what the run was told, in the report's words. */
function reportConfig(
  o: LoadOptions,
  clientCapacity: number,
  clientWebSocket: ClientWebSocket,
): LoadReport["config"] {
  return {
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
    pinning: o.pin ?? null,
    clientCoresAvailable: clientCapacity,
    stormWarmup: o.scenarios.includes("handshake")
      ? Math.min(STORM_WARMUP, o.handshakes)
      : undefined,
    accept: o.external ? undefined : o.accept ?? "guarded",
    serverV8Flags: o.serverV8Flags?.length ? o.serverV8Flags : undefined,
    clientWebSocket,
  };
}

/** Runs the load test described by `o`. */
export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const date = new Date().toISOString().slice(0, 10);
  const machine = machineInfo();
  const commit = await gitCommit();
  const pin = o.pin ?? null;
  // The client side (this process: the local agent, or the workers' conductor) on its cores.
  if (pin) await pinProcess(pin.client);
  const clientCapacity = pin ? cpuCount(pin.client) : machine.cores;
  const client = await startClientSide(
    o.clientWebSocket ?? "deno-nodelay",
    o.workers,
    pin?.client ?? null,
  );
  const agents = client.agents;
  const ctx = new RunContext(o, agents, clientCapacity);
  const notes = ctx.notes;
  notes.push(...client.notes);

  const report: Omit<LoadReport, "targets"> = {
    date,
    commit,
    machine,
    config: reportConfig(o, clientCapacity, client.webSocket),
    clientSide: client.words,
    primitives: null,
    relay: null,
    relayTls: null,
    pairs: null,
    fanout: null,
    handshake: null,
    reconnect: null,
    idle: null,
    profiles: ctx.profiles,
    notes,
  };
  const has = (s: Scenario) => o.scenarios.includes(s);
  let server: SpawnedServer | null = null;

  try {
    // ---- baselines ----
    if (o.baseline) {
      o.progress("handshake primitives: measuring");
      report.primitives = measureHandshakePrimitives();
    }
    if (o.baseline && has("pairs")) report.relay = await rawRelay(ctx);

    // ---- the server ----
    // Scenario `transports` also needs the Shadowsocks listener.
    const shadowsocks = benchShadowsocks();
    const started = await startServer(
      o,
      has("transports") ? shadowsocksEnv(shadowsocks) : {},
      notes,
    );
    server = started.server;
    const pid = started.pid;
    const target = await withPqPin(started.target);

    // The TLS baselines need the spawned server's certificate.
    const tls = server ? { tls: server.tls, certificatePem: target.certificatePem } : null;
    if (o.baseline && o.tlsBaseline && has("pairs") && tls) {
      report.relayTls = await tlsRelay(ctx, tls);
    }
    if (o.baseline && has("handshake") && tls) {
      report.relayConnect = await relayConnectFloor(ctx, tls);
      // A guarded server's handshakes cross its loopback pump: their floor does too.
      if (o.accept !== "direct") {
        report.relayConnectPumped = await relayConnectFloor(ctx, tls, "minimal");
      }
    }
    if (o.baseline && o.idleConnections > 0 && tls) {
      report.relayIdle = await relayIdleFloor(ctx, tls);
      // A guarded server's idle connections hold its loopback pump's sockets: so does their floor.
      if (o.accept !== "direct") report.relayIdlePumped = await relayIdleFloor(ctx, tls, "minimal");
    }

    // Idle memory first, while the server's heap has not yet been grown by traffic.
    if (o.idleConnections > 0 && pid !== undefined) {
      report.idle = await serverIdle(ctx, target, pid, server);
    }

    if (has("handshake")) {
      const patterns = o.stormPatterns?.length ? o.stormPatterns : [o.pattern];
      const results = await handshakeStorms(ctx, target, pid, patterns);
      report.handshake = results[0].storm;
      if (patterns.length > 1) report.handshakeByPattern = results;
    }

    if (has("pairs") || has("reconnect")) {
      await openPairs(ctx, "pairs", { target });
      if (has("pairs")) report.pairs = await pairsMaxHalf(ctx, target, pid, "", server?.adminToken);
      if (has("reconnect")) report.reconnect = await reconnectStorm(ctx, pid);
      await ctx.closeGroups();
    }
    // The p99 floor of each accept mode, paced at that mode's own 50% rate (paced_floor.ts).
    const pacedFloor = async (accept: string, rate: number | null | undefined) => {
      if (!report.relayTls || !tls || !rate) return;
      await addPacedFloor(
        report.relayTls.ackedPaced ??= [],
        accept,
        rate,
        (r) => tlsRelayAckedAt(ctx, tls, r, accept),
      );
    };
    await pacedFloor(
      o.accept === "both" ? "guarded" : o.accept ?? "guarded",
      report.pairs?.half?.targetPerSecond,
    );

    if (o.accept === "both" && server) {
      // The guarded server idles through the direct phases, but V8's memory reducer still ran
      // its collections on the server cores now and then (0.14–0.41 s each, bench runs b1, t1b
      // of 2026-12-05): stopped, it cannot land in a direct window, as in a direct-only run.
      const guarded = server;
      guarded.pause();
      try {
        report.acceptModes = await measureDirectMode({
          idle: o.idleConnections > 0 && pid !== undefined,
          handshake: has("handshake"),
          pairs: has("pairs"),
        }, {
          spawn: (env) => spawnServer(o, env),
          pin: withPqPin,
          idle: (t, spawned) => serverIdle(ctx, t, spawned.pid, spawned),
          handshake: async (t, p) =>
            (await handshakeStorms(ctx, t, p, [o.pattern], "-direct"))[0].storm,
          pairs: async (t, p, suffix, adminToken) => {
            await openPairs(ctx, `pairs${suffix}`, { target: t });
            try {
              const { max, half } = await pairsMaxHalf(ctx, t, p, suffix, adminToken);
              // The guarded 50% phase's rate on this server too: the modes' CPU per message at
              // one rate (it falls as the rate rises; guarded's max is the lower one).
              const rate = report.pairs?.half?.targetPerSecond;
              const atGuardedHalf = rate
                ? await pairsPaced(
                  ctx,
                  t,
                  p,
                  rate,
                  `pairs${suffix}, at guarded's 50%`,
                  `pairs-guarded-rate${suffix}`,
                  adminToken,
                )
                : null;
              return { max, half, atGuardedHalf };
            } finally {
              await ctx.closeGroups();
            }
          },
          progress: o.progress,
        });
      } finally {
        guarded.resume();
      }
      await pacedFloor("direct", report.acceptModes.pairs?.half?.targetPerSecond);
    }

    if (has("multipath")) report.multipath = await multipathPairs(ctx, target, pid);

    if (has("cluster")) {
      report.cluster = await measureCluster({
        services: clusterServices(o.cluster ?? {}),
        serverCpus: pin?.server ?? null,
        accept: o.accept === "direct" ? "direct" : "guarded",
        v8Flags: o.profileDir ? ["--perf-basic-prof", "--interpreted-frames-native-stack"] : [],
        openPairs: (label, targets) => openPairs(ctx, label, { target: targets[0], targets }),
        closePairs: async () => void await ctx.closeGroups(),
        phase: (label, pids, hooks) => measureTraffic(ctx, label, pids, null, o.pairs * 2, hooks),
        profile: async (pid, name, label) => {
          const recording = await profiled(ctx, pid, name);
          if (!recording.hooks) return null;
          const hooks = recording.hooks;
          return {
            start: hooks.start,
            stop: async () => {
              await hooks.stop();
              ctx.keepProfile(label, name, recording.text());
            },
          };
        },
        progress: o.progress,
      });
    }

    if (has("sfu")) report.sfu = await sfuPairs(ctx, target, pid);
    if (has("fanout")) report.fanout = await fanoutGroups(ctx, target, pid);
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
        }, ctx.channels(1));
      }
    }
  } finally {
    o.progress("stopping");
    await Promise.all(agents.map((a) => a.close()));
    await server?.stop();
    if (server) await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  const targets = evaluateTargets(report);
  return { ...report, targets, verdicts: judgeBudgets(report, targets) };
}
