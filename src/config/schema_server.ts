/**
 * The sections of the server itself: `[server]` (listening, identity, devices), `[storage]`,
 * `[presence]`, `[crypto]` (Noise keys, post-quantum, padding), `[admin]`, `[log]` and `[web]`.
 * Part of the configuration schema (schema.ts composes the sections).
 *
 * @module
 */
import { z } from "zod";
import { DATA_DIR } from "./checks.ts";
import { key, optional } from "./keys.ts";
import {
  boolean,
  hexAtLeast,
  hexExact,
  intRange,
  listenAddress,
  MiB,
  nonNegativeInt,
  oneOf,
  paddingPolicy,
  positiveInt,
  secretText,
  text,
  url,
} from "./kinds.ts";

/** The `[server]` section. */
export const server = z.strictObject({
  bind: key(listenAddress(), "0.0.0.0:8443", {
    env: "COMMUCAT_BIND",
    description: "TLS listen address (`host:port`, `[::]:port`; port 0 = any free port). " +
      "Upstream: required.",
  }),
  domain: key(text("domain"), "localhost", {
    env: "COMMUCAT_DOMAIN",
    description:
      "Server domain: ZKP context, user domain, federation identity, default upload URL. " +
      "Upstream: required.",
  }),
  tls_cert: optional(text("path"), {
    example: "/etc/commucat/tls/fullchain.pem",
    env: "COMMUCAT_TLS_CERT",
    description: "PEM certificate chain. Both or neither with `server.tls_key`; neither → the " +
      "server generates a self-signed certificate in the data dir. Upstream: required.",
  }),
  tls_key: optional(text("path"), {
    example: "/etc/commucat/tls/privkey.pem",
    env: "COMMUCAT_TLS_KEY",
    description: "PEM private key for `server.tls_cert` (both or neither).",
  }),
  data_dir: key(text("path"), "./var", {
    env: "COMMUCAT_DATA_DIR",
    description:
      `New. Directory for generated keys/certificates, the SQLite database and uploads; ` +
      `\`${DATA_DIR}\` in other paths expands to it.`,
  }),
  h2c_bind: optional(listenAddress(), {
    example: "127.0.0.1:8080",
    env: "COMMUCAT_H2C_BIND",
    description: "New. Optional plaintext (h2c/HTTP/1.1) listener, only for use behind a " +
      "TLS-terminating reverse proxy.",
  }),
  keepalive: key(positiveInt(), 60, {
    env: "COMMUCAT_KEEPALIVE",
    description: "Session TTL and keepalive base, seconds.",
  }),
  handshake_timeout_ms: key(positiveInt(), 10_000, {
    env: "COMMUCAT_HANDSHAKE_TIMEOUT_MS",
    description: "New. A connection that has not completed the handshake in this time is closed.",
  }),
  partial_frame_timeout_ms: key(nonNegativeInt(), 30_000, {
    env: "COMMUCAT_PARTIAL_FRAME_TIMEOUT_MS",
    description: "New. After the handshake, a frame (or Noise unit) whose first bytes arrived " +
      "must be complete within this time, or the connection is closed; 0 = no limit.",
  }),
  rekey_after_messages: key(nonNegativeInt(), 1_000_000, {
    env: "COMMUCAT_REKEY_AFTER_MESSAGES",
    description: "New. In-session rekey: after this many transport messages in either direction " +
      "under one key, the server runs a fresh X25519 + ML-KEM exchange inside the tunnel and both " +
      'sides switch keys (clients with the Hello capability "rekey"); 0 = no count trigger.',
  }),
  rekey_after_minutes: key(nonNegativeInt(), 60, {
    env: "COMMUCAT_REKEY_AFTER_MINUTES",
    description: "New. In-session rekey when the session's keys are this old (see " +
      "`rekey_after_messages`); 0 = no time trigger.",
  }),
  max_handshakes_in_flight: key(positiveInt(), 256, {
    env: "COMMUCAT_MAX_HANDSHAKES",
    description: "New. Concurrent unauthenticated handshakes; further connections are refused.",
  }),
  pq_handshake_cpu_percent: key(intRange(1, 100), 50, {
    env: "COMMUCAT_PQ_HANDSHAKE_CPU_PERCENT",
    description: "New. Share of one core (percent, over a sliding second) the replies to " +
      "post-quantum Hellos may take (ML-KEM encapsulation and ML-DSA signing happen before an " +
      "XK client has proven anything); hybrid Hellos beyond it are refused with `pq_busy`.",
  }),
  first_request_timeout_ms: key(positiveInt(), 10_000, {
    env: "COMMUCAT_FIRST_REQUEST_TIMEOUT_MS",
    description: "New. A connection that has not finished its TLS handshake and sent its first " +
      "HTTP request in this time is closed (silent and half-sent sockets).",
  }),
  accept: key(oneOf(["guarded", "direct"]), "guarded", {
    env: "COMMUCAT_SERVER_ACCEPT",
    description: "New. How the TLS (`server.bind`) and h2c listeners accept: `guarded` = the " +
      "server accepts each socket itself (connection caps before any byte, " +
      "`first_request_timeout_ms`, EMFILE survived) and pumps it to the HTTP server over " +
      "loopback; `direct` = the HTTP server binds the port itself (faster, less memory per " +
      "connection; caps count requests and WebSocket sessions after TLS, no first-request " +
      "timeout: for use behind a load balancer, see OPERATIONS.md). Shadowsocks and PT " +
      "listeners are always guarded.",
  }),
  idle_reclaim: key(boolean(), true, {
    env: "COMMUCAT_SERVER_IDLE_RECLAIM",
    description: "New. After a burst of handshakes (256 or more), the first half second with no " +
      "handshake and no frame runs one memory-reducing full collection: the burst's garbage " +
      "goes back instead of staying in RSS (one pause on a quiet server, logged; see " +
      'OPERATIONS.md, "Idle reclaim").',
  }),
  loop_delay_sample_ms: key(intRange(0, 60_000), 0, {
    env: "COMMUCAT_SERVER_LOOP_DELAY_SAMPLE_MS",
    description: "New. Samples the event loop's delay every this many ms into " +
      "`commucat_event_loop_delay_seconds` (a timer wake-up each; 0 = off): the wait of work " +
      "that arrives while the server is busy (GC, long turns), before it is read.",
  }),
  max_connections: key(positiveInt(), 16_384, {
    env: "COMMUCAT_MAX_CONNECTIONS",
    description: "New. Open client connections (TLS and h2c together) before new ones are " +
      "closed at once, logged as refused. Each uses three descriptors: keep 3 × this below " +
      "`ulimit -n`; past the limit, accepting pauses until descriptors free up.",
  }),
  max_connections_per_ip: key(positiveInt(), 128, {
    env: "COMMUCAT_MAX_CONNECTIONS_PER_IP",
    description: "New. Open connections from one client IP (IPv6: one /64) before new ones are " +
      "closed at once. The socket peer counts: behind a proxy, raise it.",
  }),
  outbound_queue_frames: key(positiveInt(), 1024, {
    env: "COMMUCAT_OUTBOUND_QUEUE_FRAMES",
    description: "New. Per-connection outbound queue bound in frames; a connection over it is " +
      "treated as a slow consumer and closed.",
  }),
  outbound_queue_bytes: key(positiveInt(), 4 * MiB, {
    env: "COMMUCAT_OUTBOUND_QUEUE_BYTES",
    defaultText: "4194304 (4 MiB)",
    description: "New. Per-connection outbound queue bound in bytes (see `outbound_queue_frames`).",
  }),
  shutdown_grace_ms: key(nonNegativeInt(), 5_000, {
    env: "COMMUCAT_SHUTDOWN_GRACE_MS",
    description: "New. On shutdown, time given to open connections to drain before they are cut.",
  }),
  auto_approve_devices: key(boolean(), true, {
    env: "COMMUCAT_AUTO_APPROVE_DEVICES",
    description: "New users may self-register with their first device. An existing user's new " +
      "device still needs pairing or a device certificate (no takeover by handle, §19.2). " +
      "Upstream default: false.",
  }),
  max_auto_devices_per_user: key(nonNegativeInt(), 1, {
    env: "COMMUCAT_MAX_AUTO_DEVICES",
    description: 'Devices a user may get through auto-approval; 0 = unlimited (not "disabled").',
  }),
});

/** The `[storage]` section. */
export const storage = z.strictObject({
  backend: key(oneOf(["sqlite", "postgres"]), "sqlite", {
    env: "COMMUCAT_STORAGE_BACKEND",
    description: "New. Embedded SQLite (zero-config) or PostgreSQL.",
  }),
  sqlite_path: key(text("path"), `${DATA_DIR}/commucat.db`, {
    env: "COMMUCAT_SQLITE_PATH",
    description: "New. SQLite database file (backend = sqlite).",
  }),
  postgres_dsn: optional(url(["postgres", "postgresql"]), {
    example: "postgres://commucat:password@localhost:5432/commucat",
    env: "COMMUCAT_PG_DSN",
    secret: true,
    description: 'PostgreSQL connection URL; required only when `storage.backend = "postgres"`. ' +
      "Upstream: always required.",
  }),
  pool_size: key(positiveInt(), 10, {
    env: "COMMUCAT_STORAGE_POOL_SIZE",
    description: "New. Database connection pool size (postgres).",
  }),
  redis_url: optional(url(["redis", "rediss"]), {
    example: "redis://localhost:6379",
    env: "COMMUCAT_REDIS_URL",
    secret: true,
    description: 'Redis URL; required only when `presence.backend = "redis"`. Upstream: required.',
  }),
});

/** The `[presence]` section. */
export const presence = z.strictObject({
  backend: key(oneOf(["memory", "redis"]), "memory", {
    env: "COMMUCAT_PRESENCE_BACKEND",
    description: "New. Where presence lives: in process, or Redis (needs `storage.redis_url`).",
  }),
});

/** The `[crypto]` section. */
export const crypto = z.strictObject({
  noise_private: optional(hexExact(32), {
    example: "<64 hex characters>",
    env: "COMMUCAT_NOISE_PRIVATE",
    secret: true,
    description:
      "Noise static X25519 private key. Both or neither with `crypto.noise_public`, and " +
      "the pair must match; neither → generated and persisted in the data dir. Upstream: required.",
  }),
  noise_public: optional(hexExact(32), {
    example: "<64 hex characters>",
    env: "COMMUCAT_NOISE_PUBLIC",
    description: "X25519 public key of `crypto.noise_private` (checked at load).",
  }),
  federation_seed: optional(hexAtLeast(32), {
    example: "<at least 64 hex characters>",
    env: "COMMUCAT_FEDERATION_SEED",
    secret: true,
    description: "Seed of the federation / device-CA Ed25519 key; absent → generated and " +
      "persisted in the data dir. Upstream: required.",
  }),
  prologue: key(text(), "commucat", {
    env: "COMMUCAT_NOISE_PROLOGUE",
    description: "Noise prologue (ASCII bytes).",
  }),
  pq: key(oneOf(["off", "prefer", "require"]), "prefer", {
    env: "COMMUCAT_PQ",
    description: "New. Post-quantum hybrid handshakes (XKhfs/IKhfs: ML-KEM-768 beside X25519, " +
      'the server signing with ML-DSA-65): "prefer" offers both (clients use hybrid when ' +
      'offered), "require" refuses classical Hellos, "off" refuses hybrid ones. Replaces ' +
      "upstream's `pq_kem_public`/`pq_kem_secret` (the KEM keys are per handshake).",
  }),
  padding: key(paddingPolicy(), "classes", {
    env: "COMMUCAT_PADDING",
    description: "New. Length padding inside the Noise plaintext for clients that ask for it " +
      '(Hello capability `pad1`; the SDK does): "classes" pads to 256 B…16 KiB powers of two, ' +
      'Padmé above, voice to 160 B; "block:<bytes>" to a multiple of that many bytes; "off" ' +
      'refuses `pad1` (the wire is upstream\'s). See PROTOCOL.md §2 "Padding".',
  }),
});

/** The `[admin]` section. */
export const admin = z.strictObject({
  token: optional(secretText(16), {
    example: "<a long random string>",
    env: "COMMUCAT_ADMIN_TOKEN",
    secret: true,
    description: "Bootstrap admin bearer token, stored hashed at the first start when no admin " +
      "token is stored yet (absent → one is generated into `<data_dir>/admin-token`, mode 0600); later changes are " +
      "ignored with a warning: use `commucat admin-token create`.",
  }),
});

/** The `[log]` section. */
export const log = z.strictObject({
  level: key(oneOf(["trace", "debug", "info", "warning", "error"]), "info", {
    env: "COMMUCAT_LOG_LEVEL",
    description: "New. Minimum log level. Upstream: `RUST_LOG`.",
  }),
  format: key(oneOf(["json", "pretty"]), "json", {
    env: "COMMUCAT_LOG_FORMAT",
    description: "New. JSON lines or human-readable logs.",
  }),
});

/** The `[web]` section. */
export const web = z.strictObject({
  enabled: key(boolean(), true, {
    env: "COMMUCAT_WEB_ENABLED",
    description: "New. Serve the web client under `/app/` (built by `deno task web:build`). " +
      "When false, `/app` is not served and everything else works as before.",
  }),
});
