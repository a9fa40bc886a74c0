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
  /** The name upstream exposes: `commucat_` + the key in snake_case. */
  readonly upstream: string;
  /** The name we expose (upstream + `_total` for counters). */
  readonly name: string;
  readonly type: "counter" | "gauge";
  /** HELP text: what we actually count (upstream semantics were looser). */
  readonly help: string;
}

/**
 * Every metric of reference §15.2, in upstream order: its kind and HELP text
 * by key (the upstream name is derived from the key, so it is written once).
 */
const CATALOG = {
  connectionsActive: [
    "gauge",
    "Connections with an established session (handshake done, not yet closed).",
  ],
  framesIngress: [
    "counter",
    "CCP frames received and decoded (handshake and session frames; REST requests not counted).",
  ],
  framesEgress: ["counter", "CCP frames written to clients."],
  relayEnqueued: ["counter", "Frame copies stored in offline queues (one per recipient device)."],
  securityNoise: [
    "counter",
    "Successful Noise handshakes (upstream counted /api/p2p/assist calls here).",
  ],
  securityPq: ["counter", "Handshakes that used a post-quantum KEM."],
  securityFecPackets: ["counter", "FEC packets produced."],
  multipathSessions: ["counter", "Multipath sessions set up."],
  multipathPaths: ["gauge", "Paths of live multipath sessions."],
  iceBindingRequests: ["counter", "STUN binding requests."],
  iceBindingFailures: ["counter", "Failed STUN binding requests."],
  censorshipDeflections: ["counter", "Connections moved to a censorship-resistant transport."],
  callsActive: ["gauge", "Calls in progress."],
  callsTotal: ["counter", "Calls started."],
  callVoiceFrames: ["counter", "Voice frames received from clients."],
  callVideoFrames: ["counter", "Video frames received from clients."],
  transportCandidates: ["counter", "Transport candidates offered."],
  transportPairs: ["counter", "Transport candidate pairs formed."],
  transportKeepalive: ["counter", "Transport keepalives sent."],
  federationOutboxEnqueued: ["counter", "Federation events queued for delivery to peers."],
  federationOutboxDelivered: ["counter", "Federation events delivered to peers."],
  federationInboundProcessed: ["counter", "Federation events accepted from peers."],
  federationInboundRejected: ["counter", "Federation events from peers that were rejected."],
  rateLimitHttp: ["counter", "Requests denied by the http or pairing_claim rate limit."],
  rateLimitConnect: ["counter", "Connections denied by the connect rate limit."],
  secretRotationsNoise: ["counter", "Noise static key rotations."],
  secretRotationsAdmin: ["counter", "Admin token rotations."],
  deviceRotations: ["counter", "Device key rotations accepted."],
} as const satisfies Record<string, readonly ["counter" | "gauge", string]>;

/** Keys of the upstream metrics, for code that increments them. */
export type UpstreamKey = keyof typeof CATALOG;

/** `commucat_` + `key` in snake_case (`framesIngress` → `commucat_frames_ingress`). */
function upstreamName(key: string): string {
  return `commucat_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

/** Every metric of reference §15.2, in upstream order. */
export const UPSTREAM_METRICS: readonly UpstreamMetric[] = (
  Object.entries(CATALOG) as [UpstreamKey, (typeof CATALOG)[UpstreamKey]][]
).map(([key, [type, help]]) => {
  const upstream = upstreamName(key);
  // Counters get `_total` (promtool); `commucat_calls_total` already ends in it and stays.
  const name = type === "gauge" || upstream.endsWith("_total") ? upstream : `${upstream}_total`;
  return { key, upstream, name, type, help };
});
