/**
 * `/api/p2p/assist` content (PROTOCOL.md §5 "P2P assist"): what the server
 * offers a device for a multipath session, all of it real:
 *
 * - `transports`: the listeners actually bound, each describing itself
 *   (`Listener.describe()`), secrets never included;
 * - `paths`: the caller's live paths with what the server measured on each
 *   (echo probes answered on that path, ./path_quality.ts), or
 *   `network_quality: null` when nothing was measured yet;
 * - `multipath` / `fec`: the schedule and RaptorQ profile the server will use
 *   for that many paths, and the packets per path it produces for a sample
 *   object (encoded with the real codec, then spread round-robin);
 * - `recommended_paths`: live paths, measured ones by quality first.
 *
 * Upstream probed addresses the client named (a server-side request forgery
 * vector) and reported in-memory stubs as transports; neither is done here.
 *
 * @module
 */
import {
  type FecEncoder,
  MAX_REPAIR_OVERHEAD,
  parseFecPacket,
  sourceSymbolCount,
} from "../fec/mod.ts";
import { DEFAULT_POLICY, type FecPolicy, scheduleFor } from "../multipath/mod.ts";
import { RateLimiter, type RateLimitRule } from "../security/ratelimit/mod.ts";
import type { TransportDescriptor } from "../transport/mod.ts";
import { type PathQualitySnapshot, qualityScore } from "./path_quality.ts";

/** One live path of a device's session, as the session layer reports it. */
export interface LivePath {
  /** The path's id within its session, or a probed path's label. */
  readonly id: number | string;
  /** Its `/connect` mode (`websocket`, `binary`, …), or `probe` for a probed path. */
  readonly mode: string;
  /** What was measured on it; null when nothing yet. */
  readonly quality: PathQualitySnapshot | null;
}

/** The FEC profile the server's multipath sessions use. */
export interface AssistFecProfile {
  /** Largest RaptorQ symbol size, bytes (the one reported as `fec_mtu`). */
  readonly symbolSize: number;
  /**
   * The symbol size the sessions use for an object of `bytes` (default: always
   * {@link symbolSize}); the sample plan uses it too.
   */
  readonly symbolSizeFor?: (bytes: number) => number;
  /** Largest object (a batch of ciphertexts), bytes. */
  readonly maxObjectBytes: number;
}

/** Options of {@link AssistService}. */
export interface AssistOptions {
  /** The bound listeners' descriptors. */
  transports(): readonly TransportDescriptor[];
  /** The device's live paths (empty when it has no session now). */
  livePaths(deviceId: string): readonly LivePath[];
  /** Encodes the sample object (the server's own codec). */
  encoder: FecEncoder;
  fec: AssistFecProfile;
  /** `server.keepalive` interval, seconds. */
  keepaliveIntervalSeconds: number;
  /** Per-device limit (default 10 per minute). */
  limit?: RateLimitRule;
  /** Monotonic clock, ms (rate limit and probe expiry). */
  now?: () => number;
  /** Called for every answered assist (metrics). */
  onAssist?(): void;
}

/** The validated request body (all optional). */
export interface AssistRequest {
  fec?: { mtu?: number; repair_overhead?: number };
  min_paths?: number;
}

/** The caller asked too often. */
export class AssistRateLimitedError extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super("assist rate limit exceeded");
    this.name = "AssistRateLimitedError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** Builds assist answers; see the module doc. */
export class AssistService {
  readonly #options: AssistOptions;
  readonly #limiter: RateLimiter;
  readonly #now: () => number;
  #sampleId = 0;

  constructor(options: AssistOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#limiter = new RateLimiter(
      options.limit ?? { burst: 10, windowMs: 60_000, penaltyMs: 0 },
      {
        now: this.#now,
        maxKeys: 65_536,
      },
    );
  }

  /** The answer for device `deviceId`; throws {@link AssistRateLimitedError}. */
  async assist(deviceId: string, request: AssistRequest): Promise<Record<string, unknown>> {
    const decision = this.#limiter.check(deviceId);
    if (!decision.allowed) throw new AssistRateLimitedError(decision.retryAfterMs);
    const o = this.#options;
    const paths = o.livePaths(deviceId);
    const transports = o.transports();
    const planned = Math.max(paths.length, request.min_paths ?? 2);
    const policy: FecPolicy = request.fec?.repair_overhead === undefined
      ? DEFAULT_POLICY
      : { mode: "auto", overhead: request.fec.repair_overhead };
    const schedule = scheduleFor(policy, planned, true);
    const overhead = schedule.kind === "raptorq"
      ? Math.min(schedule.overhead, MAX_REPAIR_OVERHEAD)
      : 0;
    const measured = paths.map((p) => ({ path: p, quality: p.quality }));
    const ranked = [...measured].sort((a, b) => rank(b.quality) - rank(a.quality));
    const pathIds = paths.length > 0
      ? ranked.map((r) => String(r.path.id))
      : Array.from({ length: planned }, (_, i) => `planned-${i}`);
    o.onAssist?.();
    return {
      transports: transports.map((t) => ({
        kind: t.kind,
        transport: t.transport,
        resistance: t.resistance,
        latency: t.latency,
        throughput: t.throughput,
        port: t.port,
        modes: t.modes,
        ...(t.path === undefined ? {} : { path: t.path }),
      })),
      paths: measured.map(({ path, quality }) => ({
        path_id: String(path.id),
        mode: path.mode,
        network_quality: quality ? networkQuality(quality) : null,
      })),
      multipath: {
        live_paths: paths.length,
        planned_paths: planned,
        schedule: schedule.kind,
        primary_path: pathIds[0] ?? null,
        recommended_paths: pathIds,
        fec_mtu: o.fec.symbolSize,
        fec_overhead: round(overhead),
        survives_one_path_loss: planned >= 2,
        sample_segments: await this.#sample(schedule.kind, overhead, pathIds),
      },
      fec: {
        scheme: "RaptorQ",
        packet_version: 1,
        symbol_size: o.fec.symbolSize,
        repair_overhead: round(overhead),
        repair_overhead_rule: "1/(n-1)+0.05",
        repair_esi_from: "K'",
        max_object_bytes: o.fec.maxObjectBytes,
      },
      obfuscation: {
        reality_fingerprint_hex: null,
        domain_fronting: false,
        protocol_mimicry: transports.some((t) => t.resistance !== "Basic"),
        tor_bridge: false,
      },
      keepalive: {
        enabled: true,
        ping_interval_secs: o.keepaliveIntervalSeconds,
      },
    };
  }

  /**
   * Packets per path for a sample object of 3 × the largest symbol, cut as the sessions cut it, encoded with
   * the server's codec and spread as the schedule does: round-robin for
   * RaptorQ, a full copy per path for duplicate, the first path for single.
   */
  async #sample(
    kind: "single" | "duplicate" | "raptorq",
    overhead: number,
    pathIds: readonly string[],
  ): Promise<Record<string, { total: number; repair: number }>> {
    const fec = this.#options.fec;
    const size = 3 * fec.symbolSize;
    const symbolSize = fec.symbolSizeFor?.(size) ?? fec.symbolSize;
    const sample = crypto.getRandomValues(new Uint8Array(size));
    this.#sampleId = (this.#sampleId + 1) >>> 0;
    const packets = await this.#options.encoder.encode(this.#sampleId, sample, {
      repairOverhead: kind === "raptorq" ? overhead : 0,
      symbolSize,
    });
    const k = sourceSymbolCount(size, symbolSize);
    const out: Record<string, { total: number; repair: number }> = {};
    for (const id of pathIds) out[id] = { total: 0, repair: 0 };
    packets.forEach((p, i) => {
      const repair = parseFecPacket(p).esi >= k ? 1 : 0;
      const targets = kind === "duplicate"
        ? pathIds
        : kind === "single"
        ? pathIds.slice(0, 1)
        : [pathIds[i % pathIds.length]];
      for (const id of targets) {
        out[id].total++;
        out[id].repair += repair;
      }
    });
    return out;
  }
}

/** Upstream's `network_quality` object from measured figures (bandwidth: not measured). */
function networkQuality(q: PathQualitySnapshot): Record<string, unknown> {
  const { score, label } = qualityScore(q);
  return {
    rtt_ms: q.rttMs === null ? null : round(q.rttMs),
    jitter_ms: q.jitterMs === null ? null : round(q.jitterMs),
    packet_loss_percent: round(q.lossRatio * 100),
    bandwidth_kbps: null,
    quality_score: score,
    quality_label: label,
    probe_method: "path_echo",
    samples: q.samples,
  };
}

/** Sort key: measured paths by score, unmeasured ones after them. */
function rank(q: PathQualitySnapshot | null): number {
  return q ? qualityScore(q).score : -1;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
