/**
 * Calls in the composition root: the call service and its SFU on the
 * router, their counters in the server's metrics registry, their events in
 * the ledger.
 *
 * @module
 */
import { Counter } from "prom-client";
import type { Ledger } from "../ledger/mod.ts";
import { CallService, type MediaTranscoder, Sfu } from "../media/mod.ts";
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
}

/** The defaults of the `calls.*` keys. */
export const DEFAULT_CALL_SETTINGS: CallSettings = {
  maxActive: 1000,
  maxParticipants: 16,
  ringTimeoutSeconds: 60,
};

/** Builds the call service, installs its handlers on `router` and returns it (close it at shutdown). */
export function wireCalls(p: {
  router: Router;
  registry: PeerRegistry;
  metrics: Metrics;
  ledger: Ledger;
  settings?: CallSettings;
  transcoder?: MediaTranscoder;
}): CallService {
  const s = p.settings ?? DEFAULT_CALL_SETTINGS;
  const registers = [p.metrics.registry];
  const bytes = new Counter({
    name: "commucat_call_media_bytes_total",
    help: "Call media payload bytes received from clients, by kind.",
    labelNames: ["kind"] as const,
    registers,
  });
  const forwarded = new Counter({
    name: "commucat_call_media_forwarded_total",
    help: "Call media frames the SFU delivered to participants, by kind.",
    labelNames: ["kind"] as const,
    registers,
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
  let service: CallService | undefined = undefined;
  const sfu = new Sfu({
    registry: p.registry,
    hooks: {
      forwarded: (kind) => forwarded.inc({ kind }),
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
    transcoder: p.transcoder,
    metrics: {
      callStarted: () => {
        total.inc();
        active.inc();
      },
      callEnded: () => active.dec(),
      mediaIn: (kind, n) => bytes.inc({ kind }, n),
      transport: (update) => transport[update].inc(),
    },
    record: (event) => void p.ledger.record(event),
  });
  service.install();
  return service;
}
