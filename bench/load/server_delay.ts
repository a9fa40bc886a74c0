/**
 * The server's own part of a delivery's latency, from its `/metrics`: the
 * in-server delay of each live delivery (`commucat_route_delay_seconds`:
 * its sender's chunk read → the delivery handed to the recipient's link) and
 * the event loop's sampled delay (`commucat_event_loop_delay_seconds`: how
 * long work arriving while the loop is busy waits before it is read; the
 * load tool's servers sample every {@link LOOP_DELAY_SAMPLE_MS} ms). Read at
 * a measured window's start and end; the difference of the two readings is
 * the window's. Put beside the end-to-end p99 and the client's own delay
 * (its pacing lateness), the report says which side the tail is on.
 *
 * @module
 */
import type { TargetJson } from "./agent.ts";
import { ms, num } from "./format.ts";
import type { DelayQuantiles, ServerDelaySummary, TrafficSummary } from "./report_types.ts";
import type { MeasureHooks } from "./traffic_window.ts";

/** The event-loop sampling interval of every server the load tool spawns, ms. */
export const LOOP_DELAY_SAMPLE_MS = 5;

/** A Prometheus histogram read from the exposition: bucket bounds and cumulative counts. */
export interface HistogramReading {
  /** Upper bounds, ascending, `+Inf` last. */
  bounds: number[];
  /** Cumulative counts per bound. */
  cumulative: number[];
}

/** Both histograms of one reading (null when absent from the exposition). */
export interface DelayReading {
  route: HistogramReading | null;
  loop: HistogramReading | null;
}

/** The buckets of histogram `name` in Prometheus text `text`; null when it has none. */
export function parseHistogram(text: string, name: string): HistogramReading | null {
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, "gm");
  const rows: [number, number][] = [];
  for (const match of text.matchAll(pattern)) {
    rows.push([match[1] === "+Inf" ? Infinity : Number(match[1]), Number(match[2])]);
  }
  if (rows.length === 0) return null;
  rows.sort((a, b) => a[0] - b[0]);
  return { bounds: rows.map((r) => r[0]), cumulative: rows.map((r) => r[1]) };
}

/**
 * The p50 and p99 (seconds → ms) of the observations between two readings,
 * interpolated linearly inside a bucket as PromQL's `histogram_quantile`
 * does (the `+Inf` bucket answers its lower bound); null without observations.
 */
export function quantilesBetween(
  before: HistogramReading | null,
  after: HistogramReading | null,
): DelayQuantiles | null {
  if (!after) return null;
  const counts = after.cumulative.map((c, i) => c - (before?.cumulative[i] ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (!(total > 0)) return null;
  const quantile = (q: number) => {
    const rank = q * total;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] < rank) continue;
      const upper = after.bounds[i];
      const lower = i === 0 ? 0 : after.bounds[i - 1];
      if (upper === Infinity) return lower * 1000;
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      const share = inBucket > 0 ? (rank - below) / inBucket : 1;
      return (lower + (upper - lower) * share) * 1000;
    }
    return after.bounds[after.bounds.length - 2] * 1000;
  };
  return { count: total, p50: quantile(0.5), p99: quantile(0.99) };
}

/** Reads both histograms from the server's `/metrics`; null when unreadable. */
export async function readDelays(
  target: TargetJson,
  adminToken: string,
  client: Deno.HttpClient,
): Promise<DelayReading | null> {
  try {
    const response = await fetch(`${target.url}/metrics`, {
      client,
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const text = await response.text();
    if (!response.ok) return null;
    return {
      route: parseHistogram(text, "commucat_route_delay_seconds"),
      loop: parseHistogram(text, "commucat_event_loop_delay_seconds"),
    };
  } catch {
    return null;
  }
}

/** The window's delays from two readings; undefined when either is missing. */
export function delaysBetween(
  before: DelayReading | null,
  after: DelayReading | null,
): ServerDelaySummary | undefined {
  if (!before || !after) return undefined;
  return {
    route: quantilesBetween(before.route, after.route),
    loop: quantilesBetween(before.loop, after.loop),
  };
}

/**
 * Hooks reading the server's delays at a measured window's start and end;
 * `result()` is the window's once it ran. Like kept_copies.ts, the HTTP
 * client connects before the warm-up, so no TLS handshake lands in the window.
 */
export function serverDelayHooks(
  target: TargetJson,
  adminToken: string,
): { hooks: MeasureHooks; result: () => ServerDelaySummary | undefined } {
  const client = Deno.createHttpClient({ caCerts: [target.certificatePem] });
  const warm = readDelays(target, adminToken, client);
  let before: Promise<DelayReading | null> = Promise.resolve(null);
  let after: Promise<DelayReading | null> = Promise.resolve(null);
  let summary: ServerDelaySummary | undefined;
  return {
    hooks: {
      start: () => {
        before = warm.then(() => readDelays(target, adminToken, client));
      },
      end: () => {
        after = before.then(() => readDelays(target, adminToken, client));
      },
      stop: async () => {
        try {
          summary = delaysBetween(await before, await after);
        } finally {
          await warm;
          client.close();
        }
      },
    },
    result: () => summary,
  };
}

/**
 * Which side a rate-limited phase's p99 is on: the server's own part (its
 * loop's delay before a read plus its read → write delay, p99 each: an upper
 * bound of their sum's p99) against the end-to-end p99; the rest is the
 * client's (its own loop's delay, decrypting, acknowledging) and the wire's.
 * Null without the server's figures.
 */
export function dominantPart(t: TrafficSummary): "server" | "client" | null {
  const route = t.serverDelay?.route, loop = t.serverDelay?.loop;
  if (!route || !loop || !(t.latency.p99 > 0)) return null;
  return route.p99 + loop.p99 >= t.latency.p99 / 2 ? "server" : "client";
}

/** The report's paragraph on the split of each rate-limited phase's p99; null when none has it. */
export function delaySplitNote(
  phases: [string, TrafficSummary | null | undefined][],
): string | null {
  const parts = phases.flatMap(([name, t]) => {
    const d = t?.serverDelay;
    if (!t || !d || (!d.route && !d.loop)) return [];
    const q = (v: DelayQuantiles | null) =>
      v ? `p50 ${ms(v.p50)}, p99 ${ms(v.p99)} (${num(v.count)})` : "–";
    const server = (d.route?.p99 ?? 0) + (d.loop?.p99 ?? 0);
    const dominant = dominantPart(t);
    const lateness = t.sendLateness ? ms(t.sendLateness.p99) : "–";
    return [
      `${name}: end-to-end p99 ${ms(t.latency.p99)}; server read → write ${q(d.route)}, ` +
      `server event-loop delay ${q(d.loop)}; server part ≤ ${ms(server)} (${
        Math.round(100 * server / t.latency.p99)
      }% of the p99); client pacing lateness p99 ${lateness}` +
      (dominant ? ` — **${dominant} dominates**` : ""),
    ];
  });
  if (parts.length === 0) return null;
  return "Where the p99 is (server `/metrics` over the measured window: " +
    "`commucat_route_delay_seconds`, per live delivery, its sender's chunk read → its write; " +
    "`commucat_event_loop_delay_seconds`, a timer every " +
    `${LOOP_DELAY_SAMPLE_MS} ms, how long work arriving while the loop is busy waits to be read; ` +
    "the client's own loop delay is its pacing lateness; the server dominates when its part " +
    `is at least half the p99): ${parts.join("; ")}.`;
}
