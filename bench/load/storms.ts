/**
 * The storm phases of a load run: handshake storms (one per pattern, after
 * an unmeasured warm-up) and the reconnect storm, each timed on the wall
 * clock with the server's and the client's CPU sampled around it.
 *
 * @module
 */
import type { AgentCommand, OpenResult, TargetJson } from "./agent.ts";
import type { StormSummary } from "./report_types.ts";
import { mergeOpen, type RunContext } from "./run_context.ts";
import { perfRecord } from "./spawn.ts";

/** Handshakes of the unmeasured warm-up before the storms. */
export const STORM_WARMUP = 200;

/**
 * A storm: `run` opens sessions on every agent; CPU is sampled around it
 * (`profileName`: recorded with perf under that name when `--profile`).
 */
export async function storm(
  ctx: RunContext,
  label: string,
  serverPid: number | undefined,
  count: number,
  run: (progress: (done: number, failed: number) => void) => Promise<OpenResult[]>,
  profileName?: string,
): Promise<StormSummary> {
  const recording = profileName && await ctx.canProfile(serverPid)
    ? perfRecord(serverPid!, ctx.o.profileDir!, profileName)
    : null;
  const cpu0 = ctx.cpuOf(serverPid);
  const client0 = ctx.clientCpu();
  const started = performance.now();
  const results = await run((done, failed) => {
    const s = (performance.now() - started) / 1000;
    ctx.progress(`${label}: ${done}/${count} ok, ${failed} failed, ${(done / s).toFixed(0)}/s`);
  });
  const wall = (performance.now() - started) / 1000;
  const cpu1 = ctx.cpuOf(serverPid);
  if (recording) ctx.keepProfile(label, profileName!, await recording.stop());
  const merged = mergeOpen(results);
  const serverCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  const clientCores = (ctx.clientCpu() - client0) / wall;
  ctx.noteIfSaturated(label, clientCores, "its handshakes/s");
  return {
    count,
    ok: merged.ok,
    failed: merged.failed,
    concurrency: ctx.o.concurrency,
    seconds: merged.seconds,
    perSecond: merged.ok / merged.seconds,
    latency: merged.latency.summary(),
    serverCpuSeconds,
    serverCpuMsPerHandshake: serverCpuSeconds !== null && merged.ok > 0
      ? serverCpuSeconds / merged.ok * 1000
      : null,
    clientCores,
    serverCores: serverCpuSeconds !== null ? serverCpuSeconds / wall : null,
    clientSaturated: ctx.saturated(clientCores),
    firstError: merged.firstError,
  };
}

/**
 * The storm of each pattern (after an unmeasured warm-up) against `target`;
 * `suffix` tells a second server's storms apart (labels, profile names).
 */
export async function handshakeStorms(
  ctx: RunContext,
  target: TargetJson,
  pid: number | undefined,
  patterns: string[],
  suffix = "",
): Promise<{ pattern: string; storm: StormSummary }[]> {
  const o = ctx.o;
  // Unmeasured warm-up, as the traffic phases have: without it the first storm also
  // timed the JIT compiling the handshake path (~20% more CPU per handshake).
  const warm = Math.min(STORM_WARMUP, o.handshakes);
  const command = (pattern: string, count: number): AgentCommand => ({
    cmd: "handshakeStorm",
    target,
    mode: o.mode,
    pattern,
    count,
    concurrency: Math.max(1, Math.round(o.concurrency / ctx.agents.length)),
  });
  await ctx.onAll<OpenResult>(
    warm,
    (_, share) => share === 0 ? null : command(patterns[0], share),
    (done) => ctx.progress(`handshake warm-up: ${done}/${warm}`),
  );
  const results: { pattern: string; storm: StormSummary }[] = [];
  for (const pattern of patterns) {
    const result = await storm(
      ctx,
      `handshake storm${suffix}${patterns.length > 1 ? ` ${pattern}` : ""}`,
      pid,
      o.handshakes,
      (progress) =>
        ctx.onAll<OpenResult>(
          o.handshakes,
          (_, share) => share === 0 ? null : command(pattern, share),
          progress,
        ),
      `handshake${suffix}`,
    );
    results.push({ pattern, storm: result });
  }
  return results;
}

/** Every open pair reconnects at once (on the pairs the agents hold). */
export function reconnectStorm(ctx: RunContext, pid: number | undefined): Promise<StormSummary> {
  return storm(
    ctx,
    "reconnect storm",
    pid,
    ctx.o.pairs * 2,
    (progress) =>
      ctx.onAll<OpenResult>(0, () => ({
        cmd: "reconnectStorm",
        concurrency: Math.max(1, Math.round(ctx.o.concurrency / ctx.agents.length)),
      }), progress),
    "reconnect",
  );
}
