/**
 * Server memory per idle connection: RSS (and, for a spawned CommuCat
 * server, the V8 heap split) before and after opening `--idle-connections`
 * established connections. Measured first, while the server's heap has not
 * yet been grown by traffic; the raw TLS relay's floor uses the same method
 * (baselines.ts).
 *
 * @module
 */
import type { OpenResult, TargetJson } from "./agent.ts";
import type { IdleSummary } from "./report_types.ts";
import { mergeOpen, type RunContext, sleep } from "./run_context.ts";
import { type HeapSample, readServerHeap, type SpawnedServer } from "./spawn.ts";
import { readOpenFilesLimit, readRssBytes } from "./procfs.ts";
import { WARM_IDLE_CONNECTIONS } from "./open_files.ts";

/** Opens `count` idle connections across the agents. */
export type OpenIdle = (
  count: number,
  progress?: (done: number, failed: number) => void,
) => Promise<OpenResult[]>;

/**
 * Server memory per idle connection: `open` 200 warm connections, RSS of
 * `pid`, then `--idle-connections` more, 3 s to settle, RSS again (`heap`:
 * the server's V8 heap and external memory at the same two points).
 */
export async function measureIdle(
  ctx: RunContext,
  pid: number,
  open: OpenIdle,
  label: string,
  heap?: () => Promise<HeapSample | null>,
): Promise<IdleSummary> {
  const count = ctx.o.idleConnections;
  await open(Math.min(WARM_IDLE_CONNECTIONS, count));
  await sleep(2_000);
  const baseline = readRssBytes(pid);
  const heap0 = await heap?.() ?? null;
  const started = performance.now();
  const opened = mergeOpen(
    await open(
      count,
      (done, failed) => ctx.progress(`${label}: ${done}/${count} open, ${failed} failed`),
    ),
  );
  const openSeconds = (performance.now() - started) / 1000;
  ctx.progress(`${label}: settling`);
  await sleep(3_000);
  const loaded = readRssBytes(pid);
  const heap1 = await heap?.() ?? null;
  if (opened.failed > 0) ctx.notes.push(`${label}: ${opened.failed} failed: ${opened.firstError}`);
  const per = (a: number, b: number) => opened.ok > 0 ? (b - a) / opened.ok : NaN;
  return {
    ...(heap0 && heap1
      ? {
        heapUsedBytesPerConnection: per(heap0.heapUsedBytes, heap1.heapUsedBytes),
        externalBytesPerConnection: per(heap0.externalBytes, heap1.externalBytes),
        heapTotalBytesPerConnection: per(heap0.heapTotalBytes, heap1.heapTotalBytes),
      }
      : {}),
    connections: opened.ok,
    baselineRssBytes: baseline,
    loadedRssBytes: loaded,
    bytesPerConnection: opened.ok > 0 ? (loaded - baseline) / opened.ok : NaN,
    openSeconds,
  };
}

/**
 * Idle CommuCat sessions against `target` (server `pid`; `spawned`: also its
 * heap), closed again afterwards with a second for the server to let go.
 */
export async function serverIdle(
  ctx: RunContext,
  target: TargetJson,
  pid: number,
  spawned: SpawnedServer | null,
): Promise<IdleSummary> {
  const open: OpenIdle = (count, progress) =>
    ctx.onAll<OpenResult>(count, (_, share) =>
      share === 0 ? null : {
        cmd: "openIdle",
        target,
        mode: ctx.o.mode,
        count: share,
        concurrency: ctx.o.concurrency,
      }, progress);
  const idle = await measureIdle(
    ctx,
    pid,
    open,
    "idle connections",
    spawned ? () => readServerHeap(spawned) : undefined,
  );
  await ctx.onAll(0, () => ({ cmd: "closeIdle" }));
  await sleep(1_000);
  // Whether --idle-connections fits under the server's `ulimit -n` (verdicts.ts says when not).
  const limit = readOpenFilesLimit(pid);
  return limit === null ? idle : { ...idle, openFilesLimit: limit };
}
