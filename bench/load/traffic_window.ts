/**
 * One measured traffic phase: every agent runs the same phase (warm-up,
 * measured window, drain) on the sessions it holds, while the server's CPU
 * seconds and the run-queue wait of server and client are sampled at the
 * window's edges. The building block of the pairs, fanout, sfu, multipath,
 * cluster and raw relay phases.
 *
 * @module
 */
import type { PhaseResult, PhaseSpec } from "./traffic.ts";
import { split } from "./fleet.ts";
import { ProcReader } from "./procfs.ts";
import type { TrafficSummary } from "./report_types.ts";
import { pidList, type RunContext } from "./run_context.ts";
import { LatencyHistogram } from "./stats.ts";
import { mergeTimelines, timelineName } from "./timeline.ts";

/** Starts and stops something (a perf recording) around the measured window. */
export interface MeasureHooks {
  /** At the window's start. */
  start(): void;
  /** At the window's end (before the drain), when given. */
  end?(): void;
  /** After the phase (the agents are done). */
  stop(): Promise<void>;
}

/**
 * Runs one traffic phase on every agent, sampling `serverPid`'s CPU over the
 * measured window. `ratePerSecond` null = as fast as possible.
 */
export async function measureTraffic(
  ctx: RunContext,
  label: string,
  serverPid: number | number[] | undefined,
  ratePerSecond: number | null,
  connections: number,
  onMeasure?: MeasureHooks,
): Promise<TrafficSummary> {
  const o = ctx.o;
  const spec = (share: number | null): PhaseSpec => ({
    ratePerSecond: share,
    window: ratePerSecond === null ? o.window : Math.max(o.window, 64),
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    drainMs: 3_000,
    timeline: o.timelineDir !== undefined,
    payloadBytes: o.payloadBytes,
  });
  // The window's edges are sampled without blocking this event loop (it may be the agent's):
  // ProcReader answers from a shell started before the warm-up (procfs.ts).
  const proc = ProcReader.open();
  // Summed over the processes (cluster: several instances; --workers: several agents); null
  // when any is unreadable.
  const sumOf = async (pids: number[], read: (pid: number) => Promise<number | null>) => {
    if (pids.length === 0) return null;
    const values = await Promise.all(pids.map(read));
    return values.some((v) => v === null) ? null : values.reduce((a, b) => a! + b!, 0);
  };
  // CPU of the server, and run-queue wait of the server's and the clients' event loops (time
  // another task held their core).
  const sample = async () => ({
    cpu: await sumOf(pidList(serverPid), (pid) => proc.cpuSeconds(pid)),
    wait: {
      server: await sumOf(pidList(serverPid), (pid) => proc.runQueueWaitSeconds(pid)),
      client: await sumOf(ctx.agents.map((a) => a.pid), (pid) => proc.runQueueWaitSeconds(pid)),
    },
  });
  const edges: { start?: ReturnType<typeof sample>; end?: ReturnType<typeof sample> } = {};
  const started = performance.now();
  const ticker = setInterval(() => {
    const t = (performance.now() - started) / 1000;
    const stage = t < o.warmupMs / 1000 ? "warm-up" : "measuring";
    ctx.progress(`${label}: ${stage} ${t.toFixed(1)} s of ${(o.warmupMs + o.durationMs) / 1000} s`);
  }, 250);
  const t0 = setTimeout(() => {
    edges.start = sample();
    onMeasure?.start();
  }, o.warmupMs);
  const t1 = setTimeout(() => {
    edges.end = sample();
    onMeasure?.end?.();
  }, o.warmupMs + o.durationMs);
  const shares = ratePerSecond === null
    ? null
    : split(Math.round(ratePerSecond), ctx.agents.length);
  const results = await Promise.all(
    ctx.agents.map((agent, i) =>
      agent.run<PhaseResult>({ cmd: "phase", spec: spec(shares ? shares[i] : null) })
    ),
  );
  clearInterval(ticker);
  clearTimeout(t0);
  clearTimeout(t1);
  const [at0, at1] = [await edges.start, await edges.end];
  await proc.close();
  const cpu0 = at0?.cpu ?? null;
  const cpu1 = at1?.cpu ?? null;
  await onMeasure?.stop();
  const latency = new LatencyHistogram();
  for (const r of results) latency.merge(r.latency);
  const lateness = new LatencyHistogram();
  for (const r of results) if (r.sendLateness) lateness.merge(r.sendLateness);
  if (o.timelineDir !== undefined) {
    const merged = mergeTimelines(results.flatMap((r) => r.timeline ? [r.timeline] : []));
    await Deno.writeTextFile(
      `${o.timelineDir}/${timelineName(label)}.json`,
      JSON.stringify(merged),
    );
  }
  const seconds = o.durationMs / 1000;
  const delivered = results.reduce((s, r) => s + r.delivered, 0);
  const serverCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  const fanoutGuess = results.reduce((s, r) => s + r.sent, 0);
  const clientCores = results.reduce((s, r) => s + r.clientCpuSeconds, 0) / seconds;
  ctx.noteIfSaturated(label, clientCores, "its rate and latency");
  return {
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
    clientSaturated: ctx.saturated(clientCores),
    sendLateness: ratePerSecond === null ? undefined : lateness.summary(),
    ...runQueueWait(at0?.wait ?? null, at1?.wait ?? null, seconds),
  };
}

/** Run-queue wait per wall second over a measured window, for whichever side was readable. */
export function runQueueWait(
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
