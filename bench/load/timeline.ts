/**
 * Latency over time (`bench load --timeline DIR`): every measured delivery of
 * a phase with its wall-clock receive time, and the gaps of the client's
 * pacing tick (its event loop held by something else), so a p99 can be
 * split into steady latency and stalls, and the stalls matched with what
 * happened then (a V8 GC of the server, another task on its core).
 *
 * Run as a script it prints the stall episodes of a timeline file, the
 * client's pacing-tick gaps inside each, and the server's GCs inside each
 * when given its `--trace-gc` log (`bench load --server-v8-flags=--trace-gc
 * --server-log FILE` prefixes each line with the time it was read; a log
 * prefixed with wall-clock ms by other means works too), and the client's
 * with `--client-gc` (the CLI's own `--v8-flags=--trace-gc` output, one agent):
 * `deno run -A bench/load/timeline.ts DIR/pairs-50pct.json [server.log] [--client-gc client.log]`.
 *
 * @module
 */

/** A phase's deliveries over time, as written to `--timeline DIR`. */
export interface PhaseTimeline {
  /** Pairs of (wall-clock ms of the receipt, latency ms), one per measured delivery. */
  deliveries: number[];
  /** Pairs of (wall-clock ms, gap ms): pacing ticks that came more than {@link TICK_GAP_MS} late. */
  tickGaps: number[];
  /**
   * `performance.timeOrigin` of each agent process that recorded: where the
   * `ms` of its own `--v8-flags=--trace-gc` lines count from.
   */
  origins?: number[];
}

/**
 * The first line of a `--server-log` (spawn.ts): its lines start with the
 * wall-clock ms the load tool read them, a little after V8 wrote them.
 */
export const LOG_READ_TIME_HEADER =
  "# commucat load: each line prefixed with the wall-clock ms it was read";

/** A pacing tick this much later than the last one counts as a client stall. */
export const TICK_GAP_MS = 3;

/** Collects one agent's timeline of a phase (wall clock: comparable across processes). */
export class TimelineRecorder {
  readonly #deliveries: number[] = [];
  readonly #tickGaps: number[] = [];
  #lastTick = 0;

  /** A measured delivery received at `now` (`performance.now()`) after `latencyMs`. */
  delivery(now: number, latencyMs: number): void {
    this.#deliveries.push(performance.timeOrigin + now, latencyMs);
  }

  /** The pacing tick ran at `now` (`performance.now()`). */
  tick(now: number): void {
    const gap = now - this.#lastTick;
    if (this.#lastTick > 0 && gap > TICK_GAP_MS) {
      this.#tickGaps.push(performance.timeOrigin + now, gap);
    }
    this.#lastTick = now;
  }

  toJSON(): PhaseTimeline {
    return {
      deliveries: this.#deliveries,
      tickGaps: this.#tickGaps,
      origins: [performance.timeOrigin],
    };
  }
}

/** The file name (without `.json`) of a phase's timeline: its label in lower case, dashes for the rest. */
export function timelineName(label: string): string {
  return label.toLowerCase().replace(/%/g, "pct").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Joins several agents' timelines of one phase. */
export function mergeTimelines(parts: PhaseTimeline[]): PhaseTimeline {
  return {
    deliveries: parts.flatMap((p) => p.deliveries),
    tickGaps: parts.flatMap((p) => p.tickGaps),
    origins: parts.flatMap((p) => p.origins ?? []),
  };
}

/** A run of slow deliveries: no two consecutive ones further apart than the join gap. */
export interface SlowEpisode {
  /** Wall-clock ms of its first and last slow receipt. */
  startMs: number;
  endMs: number;
  deliveries: number;
  maxLatencyMs: number;
}

/** The latency at quantile `q` (0–1) of the timeline's deliveries; NaN when empty. */
export function latencyQuantile(timeline: PhaseTimeline, q: number): number {
  const latencies: number[] = [];
  for (let i = 1; i < timeline.deliveries.length; i += 2) latencies.push(timeline.deliveries[i]);
  if (latencies.length === 0) return NaN;
  latencies.sort((a, b) => a - b);
  return latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
}

/**
 * The deliveries at or over `thresholdMs`, grouped into episodes: a slow
 * receipt more than `joinMs` after the previous slow one starts a new episode.
 * Periodic episodes point at a periodic cause (GC, a timer); one per
 * deliveries' worth of steady queueing would be spread evenly instead.
 */
export function slowEpisodes(
  timeline: PhaseTimeline,
  thresholdMs: number,
  joinMs = 20,
): SlowEpisode[] {
  const slow: [number, number][] = [];
  const d = timeline.deliveries;
  for (let i = 0; i + 1 < d.length; i += 2) {
    if (d[i + 1] >= thresholdMs) slow.push([d[i], d[i + 1]]);
  }
  slow.sort((a, b) => a[0] - b[0]);
  const episodes: SlowEpisode[] = [];
  for (const [at, latency] of slow) {
    const last = episodes.at(-1);
    if (last && at - last.endMs <= joinMs) {
      last.endMs = at;
      last.deliveries++;
      last.maxLatencyMs = Math.max(last.maxLatencyMs, latency);
    } else {
      episodes.push({ startMs: at, endMs: at, deliveries: 1, maxLatencyMs: latency });
    }
  }
  return episodes;
}

/** One V8 GC from a `--trace-gc` line. */
export interface GcEvent {
  /** Wall-clock ms the line was written (its prefix): the end of the pause. */
  atMs: number;
  kind: string;
  pauseMs: number;
}

/**
 * The GCs of a `--trace-gc` log. Lines that start with their wall-clock ms
 * (`1796419751785.6 [3825:0x…]  3248 ms: Scavenge 62.9 (92.2) -> 37.5 … 28.77 / 0.00 ms …`)
 * are placed there; in a log that starts with {@link LOG_READ_TIME_HEADER}
 * that prefix is when the line was read, so the lines are placed by V8's
 * own `ms` (since the process started) plus the smallest prefix − ms of that
 * process's lines (the line read soonest after it was written). Lines without a prefix
 * (the CLI's own `--v8-flags=--trace-gc`) need `origin`, the process's
 * `performance.timeOrigin` (a timeline's `origins`); without it they are skipped.
 */
export function parseGcLog(text: string, origin?: number): GcEvent[] {
  const parsed: {
    prefix: number | null;
    pid: string;
    sinceStart: number;
    kind: string;
    pauseMs: number;
  }[] = [];
  const line =
    /^(?:(\d+(?:\.\d+)?) )?\[(\d+):0x[0-9a-f]+\]\s+(\d+) ms: ([A-Za-z -]+?)(?: \(during sweeping\))? [\d.]+ \([\d.]+\) -> .*?MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ /;
  for (const l of text.split("\n")) {
    const m = l.match(line);
    if (!m) continue;
    parsed.push({
      prefix: m[1] === undefined ? null : Number(m[1]),
      pid: m[2],
      sinceStart: Number(m[3]),
      kind: m[4],
      pauseMs: Number(m[5]),
    });
  }
  // Read-time prefixes: one offset per process (a log may hold several servers' lines).
  const offsets = new Map<string, number>();
  if (text.startsWith(LOG_READ_TIME_HEADER)) {
    for (const p of parsed) {
      if (p.prefix === null) continue;
      offsets.set(p.pid, Math.min(offsets.get(p.pid) ?? Infinity, p.prefix - p.sinceStart));
    }
  }
  const events: GcEvent[] = [];
  for (const p of parsed) {
    const offset = offsets.get(p.pid);
    const atMs = offset !== undefined
      ? p.sinceStart + offset
      : p.prefix ?? (origin === undefined ? null : origin + p.sinceStart);
    if (atMs !== null) events.push({ atMs, kind: p.kind, pauseMs: p.pauseMs });
  }
  return events;
}

/** The GCs that ended while `episode`'s slowest deliveries were in flight (up to `maxLatencyMs` before it). */
export function gcsDuring(episode: SlowEpisode, gcs: GcEvent[]): GcEvent[] {
  return gcs.filter((g) =>
    g.atMs >= episode.startMs - episode.maxLatencyMs && g.atMs <= episode.endMs
  );
}

/** The client's pacing-tick gaps (ms) that ended while `episode`'s slowest deliveries were in flight. */
export function tickGapsDuring(episode: SlowEpisode, timeline: PhaseTimeline): number[] {
  const gaps: number[] = [];
  const t = timeline.tickGaps;
  for (let i = 0; i + 1 < t.length; i += 2) {
    if (t[i] >= episode.startMs - episode.maxLatencyMs && t[i] <= episode.endMs) {
      gaps.push(t[i + 1]);
    }
  }
  return gaps;
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--client-gc");
  const clientLog = at >= 0 ? Deno.args[at + 1] : undefined;
  const [file, gcLog] = at >= 0 ? Deno.args.filter((_, i) => i !== at && i !== at + 1) : Deno.args;
  if (!file) {
    console.error("usage: timeline.ts TIMELINE.json [SERVER-GC-LOG] [--client-gc CLIENT-GC-LOG]");
    Deno.exit(2);
  }
  const timeline = JSON.parse(await Deno.readTextFile(file)) as PhaseTimeline;
  const gcs = gcLog ? parseGcLog(await Deno.readTextFile(gcLog)) : [];
  // The client's own log has no prefix: placed from the agent's time origin (one agent).
  const clientGcs = clientLog && timeline.origins?.length === 1
    ? parseGcLog(await Deno.readTextFile(clientLog), timeline.origins[0])
    : [];
  const p99 = latencyQuantile(timeline, 0.99);
  const first = timeline.deliveries[0] ?? 0;
  const episodes = slowEpisodes(timeline, p99);
  console.log(
    `${timeline.deliveries.length / 2} deliveries, p50 ${
      latencyQuantile(timeline, 0.5).toFixed(1)
    }` +
      ` ms, p99 ${p99.toFixed(1)} ms; ${episodes.length} episodes at or over the p99`,
  );
  let withGc = 0;
  for (const e of episodes) {
    const during = gcsDuring(e, gcs);
    if (during.length > 0) withGc++;
    const gcText = during.map((g) => `${g.kind} ${g.pauseMs} ms`).join(", ");
    const clientText = gcsDuring(e, clientGcs).map((g) => `${g.kind} ${g.pauseMs} ms`).join(", ");
    const gaps = tickGapsDuring(e, timeline).map((g) => g.toFixed(0)).join(", ");
    console.log(
      `  +${(e.startMs - first).toFixed(0)} ms: ${e.deliveries} deliveries, max ` +
        `${e.maxLatencyMs.toFixed(0)} ms${gcs.length ? `; GCs: ${gcText || "none"}` : ""}` +
        `${clientGcs.length ? `; client GCs: ${clientText || "none"}` : ""}` +
        `; client tick gaps: ${gaps || "none"} ms`,
    );
  }
  if (gcs.length) console.log(`${withGc} of ${episodes.length} episodes had a server GC`);
  const gaps = timeline.tickGaps.filter((_, i) => i % 2 === 1);
  console.log(
    `client pacing tick: ${gaps.length} gaps over ${TICK_GAP_MS} ms, ` +
      `${gaps.filter((g) => g > 10).length} over 10 ms, longest ${
        Math.max(0, ...gaps).toFixed(1)
      } ms`,
  );
}
