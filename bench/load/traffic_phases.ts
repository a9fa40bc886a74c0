/**
 * The CommuCat traffic phases of a load run: 1:1 pairs (max, then 50% of
 * it), multipath pairs, SFU voice pairs and group fan-out. Each opens its
 * sessions on fresh channels across the agents and measures one or two
 * windows (traffic_window.ts).
 *
 * @module
 */
import type { AgentCommand, OpenResult, TargetJson } from "./agent.ts";
import { bothHooks, keptCopiesHooks } from "./kept_copies.ts";
import type { TrafficSummary } from "./report_types.ts";
import { REGROW_MS, settleReclaim } from "./reclaim_settle.ts";
import { mergeOpen, type RunContext } from "./run_context.ts";
import { perfRecord } from "./spawn.ts";
import { serverDelayHooks } from "./server_delay.ts";
import { type MeasureHooks, measureTraffic } from "./traffic_window.ts";

/** How `openPairs` opens the sessions: where (`target`, `targets`), and how (paths, media). */
export type PairsHow = Partial<Extract<AgentCommand, { cmd: "openGroups" }>> & {
  target: TargetJson;
};

/**
 * Opens `--pairs` 1:1 pairs across the agents on fresh channels, after the
 * servers' pending idle reclaim, then runs {@link REGROW_MS} of unmeasured
 * traffic on them (the heap the reclaim shrank grows back before any
 * window: reclaim_settle.ts).
 */
export async function openPairs(ctx: RunContext, label: string, how: PairsHow): Promise<void> {
  const o = ctx.o;
  ctx.progress(`${label}: waiting out the server's idle reclaim`);
  await settleReclaim(how.targets ?? [how.target]);
  const base = ctx.channels(o.pairs);
  const opened = mergeOpen(
    await ctx.onAll<OpenResult>(
      o.pairs,
      (i, share) =>
        share === 0 ? null : {
          cmd: "openGroups",
          mode: o.mode,
          pattern: o.pattern,
          groups: share,
          groupSize: 2,
          channelBase: base + i * (Math.ceil(o.pairs / ctx.agents.length) + 1),
          concurrency: o.concurrency,
          ...how,
        },
      (done, failed) => ctx.progress(`${label}: ${done}/${o.pairs * 2} sessions, ${failed} failed`),
    ),
  );
  if (opened.failed > 0) ctx.notes.push(`${label}: ${opened.failed} sessions failed to open`);
  ctx.progress(`${label}: ${REGROW_MS / 1000} s of unmeasured traffic`);
  await ctx.onAll(0, () => ({
    cmd: "phase",
    spec: {
      ratePerSecond: null,
      window: o.window,
      warmupMs: REGROW_MS,
      durationMs: 0,
      drainMs: 3_000,
      payloadBytes: o.payloadBytes,
    },
  }));
}

/** perf hooks recording `pid` as profile `name` over a measured window (none without `--profile`). */
export async function profiled(
  ctx: RunContext,
  pid: number | undefined,
  name: string,
): Promise<{ hooks: MeasureHooks | undefined; text: () => string | null }> {
  const state: { recording: ReturnType<typeof perfRecord> | null; text: string | null } = {
    recording: null,
    text: null,
  };
  const hooks = await ctx.canProfile(pid)
    ? {
      start: () => (state.recording = perfRecord(pid!, ctx.o.profileDir!, name)),
      stop: async () => {
        state.text = await state.recording?.stop() ?? null;
      },
    }
    : undefined;
  return { hooks, text: () => state.text };
}

/**
 * 1:1 max, then 50% of it, on pairs already open at `target` (`--profile`:
 * each measured window; the durable-copy window's counters of `/healthz` are
 * read around each); `suffix` tells a second server's phases apart.
 */
export async function pairsMaxHalf(
  ctx: RunContext,
  target: TargetJson,
  pid: number | undefined,
  suffix: string,
  adminToken?: string,
): Promise<{ max: TrafficSummary; half: TrafficSummary }> {
  const connections = ctx.o.pairs * 2;
  const maxProfile = await profiled(ctx, pid, `pairs-max${suffix}`);
  const maxKept = keptCopiesHooks(target);
  const maxDelays = adminToken === undefined ? null : serverDelayHooks(target, adminToken);
  const max = await measureTraffic(
    ctx,
    `pairs${suffix}, max`,
    pid,
    null,
    connections,
    bothHooks(bothHooks(maxProfile.hooks, maxKept.hooks), maxDelays?.hooks),
  );
  max.keptCopies = maxKept.result();
  max.serverDelay = maxDelays?.result();
  ctx.keepProfile(`pairs${suffix}, max`, `pairs-max${suffix}`, maxProfile.text());
  const half = await pairsPaced(
    ctx,
    target,
    pid,
    max.deliveredPerSecond / 2,
    `pairs${suffix}, 50%`,
    `pairs-half${suffix}`,
    adminToken,
  );
  return { max, half };
}

/**
 * 1:1 paced at `perSecond` on pairs already open at `target`, labelled
 * `label` (`--profile`: recorded as `profile`; the durable-copy window's
 * counters read around it, and with `adminToken` the server's own delays
 * from `/metrics`: server_delay.ts).
 */
export async function pairsPaced(
  ctx: RunContext,
  target: TargetJson,
  pid: number | undefined,
  perSecond: number,
  label: string,
  profile: string,
  adminToken?: string,
): Promise<TrafficSummary> {
  const recording = await profiled(ctx, pid, profile);
  const kept = keptCopiesHooks(target);
  const delays = adminToken === undefined ? null : serverDelayHooks(target, adminToken);
  const phase = await measureTraffic(
    ctx,
    label,
    pid,
    perSecond,
    ctx.o.pairs * 2,
    bothHooks(bothHooks(recording.hooks, kept.hooks), delays?.hooks),
  );
  phase.keptCopies = kept.result();
  phase.serverDelay = delays?.result();
  ctx.keepProfile(label, profile, recording.text());
  return phase;
}

/**
 * The pairs again, each session over three paths (websocket + binary + sse:
 * RaptorQ with overhead 0.55); compared with the single-path pairs phase of
 * the same run.
 */
export async function multipathPairs(
  ctx: RunContext,
  target: TargetJson,
  pid: number | undefined,
): Promise<{ paths: string; max: TrafficSummary }> {
  await openPairs(ctx, "multipath pairs", { target, mode: "websocket", paths: ["binary", "sse"] });
  const profile = await profiled(ctx, pid, "multipath-max");
  // A phase whose latency crosses the durable-copy window pays store writes a faster one does not.
  const kept = keptCopiesHooks(target);
  const max = await measureTraffic(
    ctx,
    "multipath pairs, max",
    pid,
    null,
    ctx.o.pairs * 2,
    bothHooks(profile.hooks, kept.hooks),
  );
  max.keptCopies = kept.result();
  ctx.keepProfile("multipath pairs, max", "multipath-max", profile.text());
  const counters = await ctx.closeGroups();
  if (counters && counters.sent > 0) {
    // Spurious timeouts resend on every path: work the single-path phase never does.
    ctx.notes.push(
      `multipath pairs: the clients' ${counters.sessions} sessions sent ${counters.sent} units, ` +
        `${counters.retransmitted} of them again (${
          (100 * counters.retransmitted / counters.sent).toFixed(1)
        }%: timeouts and path changes), and took ${counters.duplicates} duplicates.`,
    );
  }
  return { paths: "websocket+binary+sse", max };
}

/**
 * 1:1 calls: the same pairs, 100 B voice payloads (+3 B media header, an
 * Opus packet's size at 32–64 kbit/s) through call state and the SFU.
 */
export async function sfuPairs(
  ctx: RunContext,
  target: TargetJson,
  pid: number | undefined,
): Promise<{ max: TrafficSummary }> {
  await openPairs(ctx, "sfu", { target, media: true });
  const profile = await profiled(ctx, pid, "sfu-max");
  const max = await measureTraffic(
    ctx,
    "sfu voice pairs, max",
    pid,
    null,
    ctx.o.pairs * 2,
    profile.hooks,
  );
  ctx.keepProfile("sfu voice pairs, max", "sfu-max", profile.text());
  await ctx.closeGroups();
  return { max };
}

/** Group fan-out: `--groups` groups of `--group-size` members, at max rate. */
export async function fanoutGroups(
  ctx: RunContext,
  target: TargetJson,
  pid: number | undefined,
): Promise<{ max: TrafficSummary }> {
  const o = ctx.o;
  const base = ctx.channels(o.groups);
  await ctx.onAll<OpenResult>(
    o.groups,
    (i, share) =>
      share === 0 ? null : {
        cmd: "openGroups",
        target,
        mode: o.mode,
        pattern: o.pattern,
        groups: share,
        groupSize: o.groupSize,
        channelBase: base + i * (Math.ceil(o.groups / ctx.agents.length) + 1),
        concurrency: o.concurrency,
      },
    (done, failed) =>
      ctx.progress(`fanout: ${done}/${o.groups * o.groupSize} sessions, ${failed} failed`),
  );
  const max = await measureTraffic(ctx, "fanout, max", pid, null, o.groups * o.groupSize);
  await ctx.closeGroups();
  return { max };
}
