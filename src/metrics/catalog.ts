/**
 * The upstream CommuCat metric set (reference §15.2) and the names we expose
 * it under. Upstream counters carry no `_total` suffix, which `promtool check
 * metrics` rejects, so each counter is exposed as `<upstream>_total`; gauges
 * keep their upstream names. `docs/OPERATIONS.md` lists the mapping and a
 * relabelling rule for dashboards built on the upstream names.
 *
 * @module
 */

/** One metric of the upstream set. */
export interface UpstreamMetric {
  /** Key used by {@linkcode Metrics.upstream}. */
  readonly key: UpstreamKey;
  /** The name upstream exposes. */
  readonly upstream: string;
  /** The name we expose (upstream + `_total` for counters). */
  readonly name: string;
  readonly type: "counter" | "gauge";
  /** HELP text: what we actually count (upstream semantics were looser). */
  readonly help: string;
}

/** Keys of the upstream metrics, for code that increments them. */
export type UpstreamKey =
  | "connectionsActive"
  | "framesIngress"
  | "framesEgress"
  | "relayEnqueued"
  | "securityNoise"
  | "securityPq"
  | "securityFecPackets"
  | "multipathSessions"
  | "multipathPaths"
  | "iceBindingRequests"
  | "iceBindingFailures"
  | "censorshipDeflections"
  | "callsActive"
  | "callsTotal"
  | "callVoiceFrames"
  | "callVideoFrames"
  | "transportCandidates"
  | "transportPairs"
  | "transportKeepalive"
  | "federationOutboxEnqueued"
  | "federationOutboxDelivered"
  | "federationInboundProcessed"
  | "federationInboundRejected"
  | "rateLimitHttp"
  | "rateLimitConnect"
  | "secretRotationsNoise"
  | "secretRotationsAdmin"
  | "deviceRotations";

function counter(key: UpstreamKey, upstream: string, help: string): UpstreamMetric {
  // `commucat_calls_total` already ends in `_total`; it stays as it is.
  const name = upstream.endsWith("_total") ? upstream : `${upstream}_total`;
  return { key, upstream, name, type: "counter", help };
}

function gauge(key: UpstreamKey, upstream: string, help: string): UpstreamMetric {
  return { key, upstream, name: upstream, type: "gauge", help };
}

/** Every metric of reference §15.2, in upstream order. */
export const UPSTREAM_METRICS: readonly UpstreamMetric[] = [
  gauge(
    "connectionsActive",
    "commucat_connections_active",
    "Connections with an established session (handshake done, not yet closed).",
  ),
  counter(
    "framesIngress",
    "commucat_frames_ingress",
    "CCP frames received and decoded (handshake and session frames; REST requests not counted).",
  ),
  counter("framesEgress", "commucat_frames_egress", "CCP frames written to clients."),
  counter(
    "relayEnqueued",
    "commucat_relay_enqueued",
    "Frame copies stored in offline queues (one per recipient device).",
  ),
  counter(
    "securityNoise",
    "commucat_security_noise",
    "Successful Noise handshakes (upstream counted /api/p2p/assist calls here).",
  ),
  counter("securityPq", "commucat_security_pq", "Handshakes that used a post-quantum KEM."),
  counter("securityFecPackets", "commucat_security_fec_packets", "FEC packets produced."),
  counter("multipathSessions", "commucat_multipath_sessions", "Multipath sessions set up."),
  gauge("multipathPaths", "commucat_multipath_paths", "Paths of live multipath sessions."),
  counter("iceBindingRequests", "commucat_ice_binding_requests", "STUN binding requests."),
  counter("iceBindingFailures", "commucat_ice_binding_failures", "Failed STUN binding requests."),
  counter(
    "censorshipDeflections",
    "commucat_censorship_deflections",
    "Connections moved to a censorship-resistant transport.",
  ),
  gauge("callsActive", "commucat_calls_active", "Calls in progress."),
  counter("callsTotal", "commucat_calls_total", "Calls started."),
  counter(
    "callVoiceFrames",
    "commucat_call_voice_frames",
    "Voice frames received from clients.",
  ),
  counter(
    "callVideoFrames",
    "commucat_call_video_frames",
    "Video frames received from clients.",
  ),
  counter("transportCandidates", "commucat_transport_candidates", "Transport candidates offered."),
  counter("transportPairs", "commucat_transport_pairs", "Transport candidate pairs formed."),
  counter("transportKeepalive", "commucat_transport_keepalive", "Transport keepalives sent."),
  counter(
    "federationOutboxEnqueued",
    "commucat_federation_outbox_enqueued",
    "Federation events queued for delivery to peers.",
  ),
  counter(
    "federationOutboxDelivered",
    "commucat_federation_outbox_delivered",
    "Federation events delivered to peers.",
  ),
  counter(
    "federationInboundProcessed",
    "commucat_federation_inbound_processed",
    "Federation events accepted from peers.",
  ),
  counter(
    "federationInboundRejected",
    "commucat_federation_inbound_rejected",
    "Federation events from peers that were rejected.",
  ),
  counter(
    "rateLimitHttp",
    "commucat_rate_limit_http",
    "Requests denied by the http or pairing_claim rate limit.",
  ),
  counter(
    "rateLimitConnect",
    "commucat_rate_limit_connect",
    "Connections denied by the connect rate limit.",
  ),
  counter(
    "secretRotationsNoise",
    "commucat_secret_rotations_noise",
    "Noise static key rotations.",
  ),
  counter("secretRotationsAdmin", "commucat_secret_rotations_admin", "Admin token rotations."),
  counter("deviceRotations", "commucat_device_rotations", "Device key rotations accepted."),
];
