/**
 * Calls in the composition root: the call service and its SFU on the
 * router, their counters in the server's metrics registry, their events in
 * the ledger.
 *
 * @module
 */
import type { Ledger } from "../ledger/mod.ts";
import { Counter, Histogram } from "prom-client";
import {
  CallService,
  iceServers,
  Sfu,
  startStunResponder,
  type TurnServerConfig,
  WasmTranscoder,
} from "../media/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { PeerRegistry, Router } from "../router/mod.ts";

/** `calls.*` settings. */
export interface CallSettings {
  /** Calls in progress on this server at most (`calls.max_active`). */
  maxActive: number;
  /** Participants of one call at most (`calls.max_participants`). */
  maxParticipants: number;
  /** An offer nobody accepted ends after this many seconds (`calls.ring_timeout`). */
  ringTimeoutSeconds: number;
  /** RAW audio streams encoded to Opus at most (`calls.transcode_audio_streams`); 0 = none. */
  transcodeAudioStreams: number;
  /** RAW video streams encoded to VP8/VP9 at most (`calls.transcode_video_streams`). */
  transcodeVideoStreams?: number;
  /** `calls.libav_wasm`: another libav.js .wasm build. */
  libavWasm?: string;
  /** `[ice.turn.<name>]`: TURN servers whose credentials go into call Acks. */
  turn?: readonly TurnServerConfig[];
  /** `ice.turn_ttl`: lifetime of REST credentials, seconds (at least 60 is used). */
  turnTtlSeconds?: number;
  /** `ice.lite_bind` when `ice.lite_enabled`: where the STUN responder listens (UDP). */
  stunBind?: { hostname: string; port: number };
}

/** The defaults of the `calls.*` keys. */
export const DEFAULT_CALL_SETTINGS: CallSettings = {
  maxActive: 1000,
  maxParticipants: 16,
  ringTimeoutSeconds: 60,
  transcodeAudioStreams: 64,
  transcodeVideoStreams: 2,
};

/** Builds the call service and its transcoder, installs the handlers on `router`; close at shutdown. */
export async function wireCalls(p: {
  router: Router;
  registry: PeerRegistry;
  metrics: Metrics;
  ledger: Ledger;
  settings?: CallSettings;
}): Promise<{ calls: CallService; stunPort?: number; close(): void }> {
  const s = p.settings ?? DEFAULT_CALL_SETTINGS;
  const registers = [p.metrics.registry];
  // Counted per media frame: plain numbers, mirrored at scrape time (a labelled
  // prom-client inc hashes its labels each time: ~2% of the server in a call).
  const mediaBytes: PerKind = { audio: 0, video: 0 };
  const mediaForwarded: PerKind = { audio: 0, video: 0 };
  new Counter({
    name: "commucat_call_media_bytes_total",
    help: "Call media payload bytes received from clients, by kind.",
    labelNames: ["kind"] as const,
    registers,
    collect() {
      mirror(this, mediaBytes);
    },
  });
  new Counter({
    name: "commucat_call_media_forwarded_total",
    help: "Call media frames the SFU delivered to participants, by kind.",
    labelNames: ["kind"] as const,
    registers,
    collect() {
      mirror(this, mediaForwarded);
    },
  });
  const dropped = new Counter({
    name: "commucat_call_media_dropped_total",
    help: "Call media frames the SFU did not deliver, by kind and reason " +
      "(offline, audio_overflow, video_skipped, closed).",
    labelNames: ["kind", "reason"] as const,
    registers,
  });
  const total = p.metrics.upstreamCounter("callsTotal");
  const active = p.metrics.upstreamGauge("callsActive");
  const transport = {
    candidate: p.metrics.upstreamCounter("transportCandidates"),
    selected_candidate_pair: p.metrics.upstreamCounter("transportPairs"),
    consent_keepalive: p.metrics.upstreamCounter("transportKeepalive"),
  };
  const transcodeSeconds = new Histogram({
    name: "commucat_call_transcode_seconds",
    help: "Time one RAW media frame took in the transcoding Worker, by kind.",
    labelNames: ["kind"] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
    registers,
  });
  const transcoder = s.transcodeAudioStreams > 0 || (s.transcodeVideoStreams ?? 0) > 0
    ? new WasmTranscoder({
      maxAudioStreams: s.transcodeAudioStreams,
      maxVideoStreams: s.transcodeVideoStreams ?? 0,
      libavWasm: s.libavWasm,
      observe: (kind, seconds) => transcodeSeconds.observe({ kind }, seconds),
    })
    : undefined;
  let service: CallService | undefined = undefined;
  const sfu = new Sfu({
    registry: p.registry,
    hooks: {
      forwarded: (kind) => void mediaForwarded[kind]++,
      dropped: (kind, reason, count) => dropped.inc({ kind, reason }, count),
      requestKeyFrame: (channel, sender) => service?.requestKeyFrame(channel, sender),
    },
  });
  service = new CallService({
    router: p.router,
    registry: p.registry,
    sfu,
    limits: { maxCalls: s.maxActive, maxParticipants: s.maxParticipants },
    ringTimeoutMs: s.ringTimeoutSeconds * 1000,
    transcoder,
    metrics: {
      callStarted: () => {
        total.inc();
        active.inc();
      },
      callEnded: () => active.dec(),
      mediaIn: (kind, n) => void (mediaBytes[kind] += n),
      transport: (update) => transport[update].inc(),
    },
    record: (event) => void p.ledger.record(event),
    iceServers: s.turn?.length
      ? (device, ufrag) => iceServers(s.turn!, ufrag ?? device, s.turnTtlSeconds ?? 600, Date.now())
      : undefined,
  });
  service.install();
  const calls = service;
  const stun = s.stunBind ? await startStun(s.stunBind, calls, p.metrics) : undefined;
  return {
    calls,
    stunPort: stun?.port,
    close() {
      stun?.close();
      calls.close();
      transcoder?.shutdown();
    },
  };
}

/** A running total per media kind. */
type PerKind = Record<"audio" | "video", number>;

/** Sets `counter` to the totals of `counts` (a kind appears once it counted something). */
function mirror(counter: Counter<"kind">, counts: PerKind): void {
  counter.reset();
  if (counts.audio > 0) counter.inc({ kind: "audio" }, counts.audio);
  if (counts.video > 0) counter.inc({ kind: "video" }, counts.video);
}

/** The ICE-lite STUN responder, keyed with the ICE credentials of the calls in progress. */
async function startStun(
  bind: { hostname: string; port: number },
  calls: CallService,
  metrics: Metrics,
): Promise<{ port: number; close(): void }> {
  const requests = metrics.upstreamCounter("iceBindingRequests");
  const failures = metrics.upstreamCounter("iceBindingFailures");
  try {
    return await startStunResponder(
      bind.hostname,
      bind.port,
      (ufrag) => calls.calls.icePassword(ufrag),
      { request: () => requests.inc(), failure: () => failures.inc() },
    );
  } catch (error) {
    throw new Error(
      `ice.lite_bind ${bind.hostname}:${bind.port}: the STUN responder cannot listen (${
        error instanceof Error ? error.message : String(error)
      }; UDP needs --allow-net for it)`,
    );
  }
}
