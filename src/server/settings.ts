/**
 * What the composition root needs to build a server, independent of how the
 * configuration file spells it (see `fromConfig` in ./from_config.ts).
 *
 * @module
 */
import { DEFAULT_ROTATION, type RotationSettings } from "../security/rotation/mod.ts";
import type { RateLimitRules } from "../security/ratelimit/mod.ts";
import type { StoreSettings } from "../storage/mod.ts";
import type { OfflineQueueQuota } from "../router/mod.ts";
import type { CallSettings } from "./calls_wiring.ts";
import type { PaddingPolicy } from "../proto/mod.ts";

/** Resolved server settings. */
export interface ServerSettings {
  hostname: string;
  port: number;
  /** Optional plaintext (h2c / HTTP/1.1) listener for use behind a TLS proxy. */
  h2c?: { hostname: string; port: number };
  /** `transport.shadowsocks.*`: the optional Shadowsocks AEAD listener (password never logged). */
  shadowsocks?: {
    hostname: string;
    port: number;
    method: "chacha20-ietf-poly1305" | "aes-256-gcm";
    password: string;
  };
  /** `transport.pt.*`: the optional pluggable-transport child (obfs4proxy) and its listener. */
  pt?: {
    hostname: string;
    port: number;
    binary: string;
    transport: string;
    stateDir: string;
    options?: string;
  };
  /** `transport.websocket_path`: a second path serving `/connect` (a CDN-forwarded path). */
  websocketPath?: string;
  domain: string;
  dataDir: string;
  tls: { certPath: string; keyPath: string } | null;
  sqlitePath: string;
  /** Durable state: embedded SQLite (default) or PostgreSQL shared by several instances. */
  storage: { backend: "sqlite" } | { backend: "postgres"; dsn: string; poolSize: number };
  /** Presence and the cross-instance bus: this process, or Redis shared by several instances. */
  presence: { backend: "memory" } | { backend: "redis"; url: string };
  /** Apply pending migrations at start instead of refusing. */
  migrate: boolean;
  prologue: string;
  noiseKey: { privateKey: Uint8Array; publicKey: Uint8Array } | null;
  federationSeed: Uint8Array | null;
  keepaliveSeconds: number;
  autoApproveDevices: boolean;
  maxAutoDevicesPerUser: number;
  handshakeTimeoutMs: number;
  /** `server.partial_frame_timeout_ms`: a frame begun after the handshake must complete in time (0 = off). */
  partialFrameTimeoutMs: number;
  /**
   * Multipath sessions (PROTOCOL.md "Multipath"): paths per session, how
   * long a session with no path waits for one, the FEC policy; `false` turns
   * them off (a Hello asking for them gets an ordinary session). Default on.
   */
  multipath?: false | { maxPaths?: number; lingerMs?: number; policy?: string };
  /** `server.rekey_after_messages` (0 = off). */
  rekeyAfterMessages: number;
  /** `server.rekey_after_minutes` in milliseconds (0 = off). */
  rekeyAfterMs: number;
  /** `crypto.padding`: how `pad1` sessions pad (absent: the `classes` policy). */
  padding?: PaddingPolicy;
  outboundQueueFrames: number;
  outboundQueueBytes: number;
  presenceTtlSeconds: number;
  relayTtlSeconds: number;
  /** `limits.offline_queue_*`: bounds per recipient device and per sending user. */
  offlineQueueQuota: OfflineQueueQuota;
  shutdownGraceMs: number;
  /** `router.durable_copy_delay_ms`: the durable-copy window of live deliveries (0 = write first). */
  durableCopyDelayMs: number;
  /** Bearer token for `/metrics` (`admin.token`); absent → `/metrics` refuses everyone. */
  adminToken?: string;
  /** `limits.pairing_ttl`, seconds. */
  pairingTtlSeconds: number;
  /** `rotation.device.*`: device key rotation through `POST /api/device/csr`. */
  deviceRotation: {
    enabled: boolean;
    minIntervalSeconds: number;
    proofTtlSeconds: number;
    notifyChannel: number;
  };
  /** `uploads.*`; null → `<dataDir>/uploads` served as `https://<domain>/uploads`. */
  uploads: { dir: string; baseUrl: string; maxBytesPerUser?: number } | null;
  /** Noise static key and admin token rotation (`security.rotation.*`). */
  rotation: RotationSettings;
  /** Audit ledger (`ledger.*`). */
  ledger: { mode: "null" | "debug" | "file"; target?: string };
  /** Per-client-IP limits (`security.rate_limit.*`). */
  rateLimits: RateLimitRules;
  /** Proxies whose X-Forwarded-For is believed (`security.trusted_proxies`). */
  trustedProxies: readonly string[];
  /** Handshakes in flight before new ones are refused at once. */
  maxHandshakesInFlight: number;
  /**
   * Socket guards of the listeners: `server.first_request_timeout_ms`,
   * `server.max_connections`, `server.max_connections_per_ip`.
   */
  connections: { firstRequestTimeoutMs: number; maxTotal: number; maxPerIp: number };
  /**
   * `server.accept`: how the TLS and h2c listeners accept (default `guarded`:
   * sockets guarded then pumped over loopback; `direct`: `Deno.serve` on the port).
   */
  accept?: "guarded" | "direct";
  /**
   * `server.idle_reclaim`: one memory-reducing collection at the first quiet
   * second after a handshake burst (default on; src/server/idle_reclaim.ts).
   */
  idleReclaim?: boolean;
  /** `server.loop_delay_sample_ms`: event-loop delay sampling interval (0 or absent = off). */
  loopDelaySampleMs?: number;
  /** `calls.*`; absent → the defaults of `DEFAULT_CALL_SETTINGS`. */
  calls?: CallSettings;
  /** `crypto.pq`: post-quantum handshake policy (default `prefer`). */
  pq?: "off" | "prefer" | "require";
  /** `server.pq_handshake_cpu_percent`: share of one core hybrid Hello replies may take. */
  pqHandshakeCpuPercent?: number;
  /** `federation.*`; absent → no static peers (stored peers still count). */
  federation?: FederationSettings;
  /** `web.enabled`: serve the web client under `/app/` (absent → true). */
  webClient?: boolean;
}

/** Federation settings (docs/PROTOCOL.md "Federation"). */
export interface FederationSettings {
  /** `federation.peers`: public keys as hex (from the config) or bytes. */
  peers: { domain: string; endpoint: string; publicKey: string | Uint8Array }[];
  /** `federation.ca_file`: extra trusted CA certificates (PEM) for outbound requests. */
  caFile?: string;
  /** Accepted clock difference of inbound events, seconds (default 600). */
  freshnessSeconds?: number;
  /** Outbox worker tuning (tests). */
  outbox?: { intervalMs?: number; timeoutMs?: number; leaseMs?: number; maxAgeMs?: number };
}

/** The store `settings` name: the PostgreSQL of `storage`, else the SQLite file at `sqlitePath`. */
export function storeSettingsOf(
  settings: Pick<ServerSettings, "storage" | "sqlitePath">,
): StoreSettings {
  return settings.storage.backend === "postgres"
    ? { backend: "postgres", dsn: settings.storage.dsn, poolSize: settings.storage.poolSize }
    : { backend: "sqlite", path: settings.sqlitePath };
}

/** Settings for tests and the zero-config default, overridable field by field. */
export function defaultSettings(overrides: Partial<ServerSettings> = {}): ServerSettings {
  const dataDir = overrides.dataDir ?? "./var";
  return {
    hostname: "0.0.0.0",
    port: 8443,
    domain: "localhost",
    dataDir,
    tls: null,
    sqlitePath: `${dataDir}/commucat.db`,
    storage: { backend: "sqlite" },
    presence: { backend: "memory" },
    migrate: false,
    prologue: "commucat",
    noiseKey: null,
    federationSeed: null,
    keepaliveSeconds: 60,
    autoApproveDevices: true,
    maxAutoDevicesPerUser: 1,
    handshakeTimeoutMs: 10_000,
    partialFrameTimeoutMs: 30_000,
    rekeyAfterMessages: 1_000_000,
    rekeyAfterMs: 3_600_000,
    outboundQueueFrames: 1024,
    outboundQueueBytes: 4 * 1024 * 1024,
    presenceTtlSeconds: 30,
    relayTtlSeconds: 86_400,
    offlineQueueQuota: {
      recipientFrames: 10_000,
      recipientBytes: 64 * 1024 * 1024,
      senderFrames: 100_000,
      senderBytes: 256 * 1024 * 1024,
    },
    shutdownGraceMs: 5_000,
    durableCopyDelayMs: 200,
    pairingTtlSeconds: 300,
    rotation: DEFAULT_ROTATION,
    ledger: { mode: "null" },
    rateLimits: {
      http: { burst: 60, windowMs: 1_000, penaltyMs: 10_000 },
      connect: { burst: 20, windowMs: 1_000, penaltyMs: 30_000 },
      pairing: { burst: 5, windowMs: 60_000, penaltyMs: 120_000 },
    },
    trustedProxies: [],
    maxHandshakesInFlight: 256,
    connections: { firstRequestTimeoutMs: 10_000, maxTotal: 16_384, maxPerIp: 128 },
    deviceRotation: {
      enabled: true,
      minIntervalSeconds: 86_400,
      proofTtlSeconds: 600,
      notifyChannel: 0,
    },
    uploads: null,
    ...overrides,
  };
}
