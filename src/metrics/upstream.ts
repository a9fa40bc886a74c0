/**
 * The upstream metric set (catalog.ts) as prom-client metrics: most are
 * mirrored at scrape time from figures kept elsewhere — plain totals the
 * connection observer adds to, the offline queue's running total, the
 * multipath hub's figures — the rest are counted directly.
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { UPSTREAM_METRICS, type UpstreamKey } from "./catalog.ts";

/** The multipath hub's figures the upstream metrics mirror (src/multipath `MultipathStats`). */
export interface MultipathFigures {
  readonly sessionsStarted: number;
  readonly livePaths: number;
  readonly fecPackets: number;
}

/** Which upstream metric mirrors which figure. */
const MULTIPATH_FIGURE = {
  securityFecPackets: "fecPackets",
  multipathSessions: "sessionsStarted",
  multipathPaths: "livePaths",
} as const satisfies Partial<Record<UpstreamKey, keyof MultipathFigures>>;

/**
 * The upstream counters counted per frame or per handshake: plain totals the
 * observer adds to, mirrored into their prom-client counters at scrape time (a
 * prom-client `inc` per frame was 60-80 ns).
 */
export interface FrameTotals {
  framesIngress: number;
  framesEgress: number;
  callVoiceFrames: number;
  callVideoFrames: number;
  securityNoise: number;
  securityPq: number;
}

/** Zeroed {@link FrameTotals}. */
export function newFrameTotals(): FrameTotals {
  return {
    framesIngress: 0,
    framesEgress: 0,
    callVoiceFrames: 0,
    callVideoFrames: 0,
    securityNoise: 0,
    securityPq: 0,
  };
}

/** Where the mirrored upstream metrics read their values at scrape time. */
export interface UpstreamSources {
  /** The offline queue's running total of stored copies. */
  queue?: { readonly stats: { readonly enqueued: number } };
  /** The multipath hub's figures (undefined until a hub is watched). */
  multipath: () => MultipathFigures | undefined;
  /** Established connections now. */
  active: () => number;
  /** The totals the observer adds to per frame and handshake. */
  frames: FrameTotals;
}

/** Registers every upstream metric in `registers`; returns them by key. */
export function registerUpstreamMetrics(
  registers: Registry[],
  sources: UpstreamSources,
): Map<UpstreamKey, Counter | Gauge> {
  const upstream = new Map<UpstreamKey, Counter | Gauge>();
  const queue = sources.queue;
  for (const m of UPSTREAM_METRICS) {
    const config = { name: m.name, help: m.help, registers };
    if (m.key === "relayEnqueued" && queue) {
      // The offline queue keeps its own running total; mirror it at scrape time.
      upstream.set(
        m.key,
        new Counter({
          ...config,
          collect() {
            this.reset();
            this.inc(queue.stats.enqueued);
          },
        }),
      );
    } else if (m.key in MULTIPATH_FIGURE) {
      // The multipath hub keeps these; mirrored at scrape time once it is watched.
      const figure = MULTIPATH_FIGURE[m.key as keyof typeof MULTIPATH_FIGURE];
      const read = () => sources.multipath()?.[figure] ?? 0;
      upstream.set(
        m.key,
        m.type === "counter"
          ? new Counter({
            ...config,
            collect() {
              this.reset();
              this.inc(read());
            },
          })
          : new Gauge({
            ...config,
            collect() {
              this.set(read());
            },
          }),
      );
    } else if (m.key === "connectionsActive") {
      // Counted per handshake and close by the observer; mirrored at scrape time.
      const read = sources.active;
      upstream.set(
        m.key,
        new Gauge({
          ...config,
          collect() {
            this.set(read());
          },
        }),
      );
    } else if (m.key in sources.frames) {
      // Counted per frame by the observer; mirrored at scrape time.
      const totals = sources.frames;
      const key = m.key as keyof FrameTotals;
      upstream.set(
        m.key,
        new Counter({
          ...config,
          collect() {
            this.reset();
            this.inc(totals[key]);
          },
        }),
      );
    } else {
      upstream.set(m.key, m.type === "counter" ? new Counter(config) : new Gauge(config));
    }
  }
  return upstream;
}
