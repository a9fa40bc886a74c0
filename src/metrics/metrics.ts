/**
 * The server's Prometheus metrics: one prom-client {@linkcode Registry} per
 * server (never the global default one), fed by a connection observer and
 * read from the offline queue at scrape time.
 *
 * @module
 */
import { Counter, Gauge, Registry } from "prom-client";
import { FrameType } from "../proto/mod.ts";
import type { ConnectionObserver } from "../session/mod.ts";
import type { ConnectMode } from "../transport/mod.ts";
import type { UpstreamKey } from "./catalog.ts";
import { type P2pMetrics, registerP2pMetrics } from "./p2p.ts";
import { type PtMetrics, registerPtMetrics } from "./pt.ts";
import { registerProcessMetrics } from "./process.ts";
import { RunningHistogram } from "./running_histogram.ts";
import {
  type FrameTotals,
  type MultipathFigures,
  newFrameTotals,
  registerUpstreamMetrics,
} from "./upstream.ts";

export { combineObservers } from "./combine_observers.ts";
export type { MultipathFigures } from "./upstream.ts";

/** Content type of {@linkcode Metrics.renderMetrics} (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Rate-limit scopes (reference §15.1). */
export type RateLimitScope = "http" | "connect" | "pairing_claim";

/**
 * Why a listener did not serve a connection (guarded accept) or a request (direct accept), by
 * listener: a connection cap (`total`, `per_client`), no first request in time (`timeout`), a
 * failed accept (`accept_error`), and on the Shadowsocks port a first chunk that did not
 * authenticate (`unauthenticated`: a probe, a wrong key, a replayed salt). The listeners' `onDrop`
 * reasons, spelled out here so metrics imports nothing of transport; anything else is `other`.
 */
const REFUSAL_REASONS = {
  http: ["total", "per_client", "timeout", "accept_error"],
  shadowsocks: ["total", "per_client", "timeout", "accept_error", "unauthenticated"],
} as const;

/** The listeners counted in `commucat_connections_refused_total`: TLS and h2c are `http`. */
export type RefusingListener = keyof typeof REFUSAL_REASONS;

/** The series of `commucat_handshakes_total`, as plain totals (see {@link Metrics.handshakes}). */
interface HandshakeSeries {
  readonly labels: { result: string; reason: string };
  value: number;
}

/** Where the metrics read values that live elsewhere. */
export interface MetricsOptions {
  /** The offline queue: its running total, and its depth counted on each scrape. */
  offlineQueue?: {
    readonly stats: { readonly enqueued: number; readonly keepFailures?: number };
    count(): Promise<number>;
  };
  /** Server version for `commucat_build_info`. */
  version?: string;
}

const MODES: readonly ConnectMode[] = ["binary", "sse", "long-poll", "websocket"];

/** Buckets for handshakes: a few ms locally up to the handshake timeout. */
const HANDSHAKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets for routing: sub-millisecond live delivery up to slow storage writes. */
const ROUTING_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/**
 * Buckets for the in-server delay of a delivery and the event loop's delay:
 * finer in the 1–100 ms range, where a p99 budget of 10 ms is judged.
 */
export const DELAY_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.002,
  0.003,
  0.005,
  0.0075,
  0.01,
  0.015,
  0.02,
  0.03,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  1,
];

/** A handshake failure reason as a bounded label value. */
function reasonLabel(reason: string | undefined, ok: boolean): string {
  if (ok) return "none";
  if (reason && /^[a-z0-9_]{1,40}$/.test(reason)) return reason;
  return "other";
}

/** The metrics of one server. */
export class Metrics {
  /** The registry every metric of this server lives in. */
  readonly registry: Registry = new Registry();
  /**
   * Handshake durations, label `result` (`ok` | `failed`): series bound once
   * (prom-client's labelled `observe` hashed the labels per handshake).
   */
  readonly handshakeDuration: RunningHistogram;
  /**
   * Handshakes, labels `result` and `reason` (`none` on success): mirrored at
   * scrape time from plain totals the observer counts (its series, in the
   * order first counted: prom-client's order).
   */
  readonly handshakes: Counter<"result" | "reason">;
  /** Time from a frame's arrival to its delivery or queueing for all recipients. */
  readonly routingLatency: RunningHistogram;
  /**
   * Time from reading a chunk from a sender's link to handing each live
   * delivery it made to the recipient's link (docs/OPERATIONS.md, "Metrics").
   */
  readonly routeDelay: RunningHistogram;
  /** How late the event loop ran a timer due at a set time (when sampled: LoopDelayMonitor). */
  readonly loopDelay: RunningHistogram;
  /** Open connections (any phase) by transport mode: mirrored at scrape time from plain counts. */
  readonly connections: Gauge<"mode">;
  /** Frames waiting in offline queues (read from storage on scrape). */
  readonly relayQueueDepth: Gauge;
  /** Rate-limit denials by scope. */
  readonly rateLimitDenials: Counter<"scope">;
  /** Federation outbox delivery attempts (successful or not). */
  readonly federationOutboxAttempts: Counter;
  /** Connections or requests the listeners refused, by listener and reason ({@link connectionRefused}). */
  readonly connectionRefusals: Counter<"listener" | "reason">;
  /** The `/p2p` relay and `/api/p2p/assist` metrics. */
  readonly p2p: P2pMetrics;
  /** The pluggable-transport listener's metrics. */
  readonly pt: PtMetrics;
  readonly #upstream: Map<UpstreamKey, Counter | Gauge>;
  #multipath: (() => MultipathFigures) | null = null;
  #frames: FrameTotals = newFrameTotals();
  /** Open connections by mode, and established ones (`commucat_connections_active`). */
  #open: Record<ConnectMode, number> = { binary: 0, sse: 0, "long-poll": 0, websocket: 0 };
  #active = 0;
  /** `commucat_handshakes_total`'s series by reason label (result `failed`), made when first counted. */
  #failedHandshakes = new Map<string, HandshakeSeries>();
  #okHandshakes: HandshakeSeries | null = null;
  /** Every handshake series, in the order first counted. */
  #handshakeSeries: HandshakeSeries[] = [];

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const queue = options.offlineQueue;
    this.#upstream = registerUpstreamMetrics(registers, {
      queue,
      multipath: () => this.#multipath?.(),
      active: () => this.#active,
      frames: this.#frames,
    });
    this.handshakeDuration = new RunningHistogram({
      name: "commucat_handshake_duration_seconds",
      help: "Time from connection start to handshake success or failure.",
      buckets: HANDSHAKE_BUCKETS,
      labelled: true,
      registers,
    });
    const handshakeSeries = () => this.#handshakeSeries;
    this.handshakes = new Counter({
      name: "commucat_handshakes_total",
      help: "Handshakes by result and failure reason.",
      labelNames: ["result", "reason"] as const,
      registers,
      collect() {
        this.reset();
        for (const series of handshakeSeries()) this.inc(series.labels, series.value);
      },
    });
    // Observed once per routed frame: prom-client's observe was ~0.5 µs of it.
    this.routingLatency = new RunningHistogram({
      name: "commucat_routing_latency_seconds",
      help: "Time from a frame's arrival to its delivery or queueing for every recipient.",
      buckets: ROUTING_BUCKETS,
      registers,
    });
    // Observed once per write that carries live deliveries (times the deliveries).
    this.routeDelay = new RunningHistogram({
      name: "commucat_route_delay_seconds",
      help: "Time from reading a client's frame to writing each live delivery of it " +
        "(per delivery; deliveries made after a store or route read are not counted).",
      buckets: DELAY_BUCKETS,
      registers,
    });
    this.loopDelay = new RunningHistogram({
      name: "commucat_event_loop_delay_seconds",
      help: "How late the event loop ran a sampling timer (server.loop_delay_sample_ms; " +
        "empty when 0): the wait of work that arrived while the loop was busy.",
      buckets: DELAY_BUCKETS,
      registers,
    });
    const open = this.#open;
    this.connections = new Gauge({
      name: "commucat_connections",
      help: "Open /connect connections (handshaking or established) by transport mode.",
      labelNames: ["mode"] as const,
      registers,
      collect() {
        for (const mode of MODES) this.set({ mode }, open[mode]);
      },
    });
    this.relayQueueDepth = new Gauge({
      name: "commucat_relay_queue_depth",
      help: "Frames waiting in offline queues, copies of live frames not yet acknowledged " +
        "included (NaN when storage could not be read).",
      registers,
      async collect() {
        if (!queue) return;
        try {
          this.set(await queue.count());
        } catch {
          this.set(Number.NaN);
        }
      },
    });
    new Counter({
      name: "commucat_offline_queue_write_failures_total",
      help: "Batches of copies of live-delivered frames the store failed to write " +
        "(their senders got Error unavailable instead of the Ack).",
      registers,
      collect() {
        this.reset();
        this.inc(queue?.stats.keepFailures ?? 0);
      },
    });
    this.rateLimitDenials = new Counter({
      name: "commucat_rate_limit_denials_total",
      help: "Requests and connections denied by a rate limit, by scope.",
      labelNames: ["scope"] as const,
      registers,
    });
    this.federationOutboxAttempts = new Counter({
      name: "commucat_federation_outbox_attempts_total",
      help: "Federation outbox delivery attempts, successful or not.",
      registers,
    });
    this.connectionRefusals = new Counter({
      name: "commucat_connections_refused_total",
      help: "Connections (guarded accept) or requests (direct accept) the listeners refused, " +
        "by listener (http: TLS and h2c; shadowsocks) and reason: total / per_client " +
        "(server.max_connections / server.max_connections_per_ip reached), timeout (no first " +
        "request in time), accept_error (accept failed, e.g. out of descriptors), " +
        "unauthenticated (shadowsocks: the first chunk did not authenticate).",
      labelNames: ["listener", "reason"] as const,
      registers,
    });
    new Gauge({
      name: "commucat_build_info",
      help: "Always 1; the label carries the server version.",
      labelNames: ["version"] as const,
      registers,
    }).set({ version: options.version ?? "unknown" }, 1);
    this.p2p = registerP2pMetrics(this.registry);
    this.pt = registerPtMetrics(this.registry);
    registerProcessMetrics(this.registry);
    // Zero series exist from the start, so rates work from the first scrape.
    for (const mode of MODES) this.connections.set({ mode }, 0);
    for (const result of ["ok", "failed"]) this.handshakeDuration.zero({ result });
    for (const scope of ["http", "connect", "pairing_claim"]) {
      this.rateLimitDenials.inc({ scope }, 0);
    }
    for (const [listener, reasons] of Object.entries(REFUSAL_REASONS)) {
      for (const reason of reasons) this.connectionRefusals.inc({ listener, reason }, 0);
    }
  }

  /** Mirrors the multipath hub's figures in the upstream multipath and FEC metrics. */
  watchMultipath(source: () => MultipathFigures): void {
    this.#multipath = source;
  }

  /** One of the upstream (§15.2) counters, for the code that counts it. */
  upstreamCounter(key: UpstreamKey): Counter {
    const metric = this.#upstream.get(key);
    if (!(metric instanceof Counter)) throw new TypeError(`${key} is not a counter`);
    return metric;
  }

  /** One of the upstream (§15.2) gauges. */
  upstreamGauge(key: UpstreamKey): Gauge {
    const metric = this.#upstream.get(key);
    if (!(metric instanceof Gauge)) throw new TypeError(`${key} is not a gauge`);
    return metric;
  }

  /** Records how long one frame took from arrival to delivered/queued for all recipients. */
  observeRouting(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.routingLatency.observe(seconds);
  }

  /** Counts one rate-limit denial (also in the upstream per-scope counters). */
  rateLimitDenied(scope: RateLimitScope): void {
    this.rateLimitDenials.inc({ scope });
    this.upstreamCounter(scope === "connect" ? "rateLimitConnect" : "rateLimitHttp").inc();
  }

  /** Counts one connection or request a listener refused (its `onDrop` hook). */
  connectionRefused(listener: RefusingListener, reason: string): void {
    const known = (REFUSAL_REASONS[listener] as readonly string[]).includes(reason);
    this.connectionRefusals.inc({ listener, reason: known ? reason : "other" });
  }

  /** The `commucat_handshakes_total` series of a handshake's outcome (made when first counted). */
  #handshakeSeriesOf(ok: boolean, reason: string | undefined): HandshakeSeries {
    if (ok) return this.#okHandshakes ??= this.#newHandshakeSeries("ok", "none");
    const label = reasonLabel(reason, false);
    return this.#failedHandshakes.get(label) ??
      this.#failedHandshakes.set(label, this.#newHandshakeSeries("failed", label)).get(label)!;
  }

  #newHandshakeSeries(result: string, reason: string): HandshakeSeries {
    const series = { labels: { result, reason }, value: 0 };
    this.#handshakeSeries.push(series);
    return series;
  }

  /**
   * A connection observer that feeds these metrics. Per connection and
   * handshake it only adds to plain numbers and series bound once: the
   * prom-client calls with label objects (validated and hashed each time)
   * were 10–17 µs per handshake.
   */
  observer(): ConnectionObserver {
    const frames = this.#frames;
    const open = this.#open;
    const ok = this.handshakeDuration.series({ result: "ok" });
    const failed = this.handshakeDuration.series({ result: "failed" });
    return {
      opened: ({ mode }) => void open[mode]++,
      closed: ({ mode, established }) => {
        open[mode]--;
        if (established) this.#active--;
      },
      handshake: (info) => {
        this.#handshakeSeriesOf(info.ok, info.reason).value++;
        (info.ok ? ok : failed).observe(Math.max(0, info.durationMs) / 1000);
        if (info.ok) {
          frames.securityNoise++;
          if (info.postQuantum) frames.securityPq++;
          this.#active++;
        }
      },
      frameIn: (type) => {
        frames.framesIngress++;
        if (type === FrameType.VoiceFrame) frames.callVoiceFrames++;
        else if (type === FrameType.VideoFrame) frames.callVideoFrames++;
      },
      frameOut: () => {
        frames.framesEgress++;
      },
      routed: ({ seconds }) => this.observeRouting(seconds),
      routeDelay: (seconds, deliveries) => {
        if (seconds >= 0) this.routeDelay.observe(seconds, deliveries);
      },
    };
  }

  /** The exposition in Prometheus text format 0.0.4. */
  renderMetrics(): Promise<string> {
    return this.registry.metrics();
  }
}
