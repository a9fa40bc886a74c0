/**
 * The configuration schema: the single source of truth for every key — its
 * name, environment variable, type, default and description (attached to each
 * leaf through `keyMeta` in keys.ts) and every cross-key rule. The loader, the
 * reference docs and `commucat diagnose` all derive from it.
 *
 * Deliberate departures from upstream (§13.2) are stated in the descriptions:
 * everything has a usable default so `commucat serve` works with no file.
 *
 * @module
 */
import { z } from "zod";
import { camelize } from "./case.ts";
import { checkConfig, DATA_DIR, deriveConfig } from "./checks.ts";
import { key, list, optional, requiredList } from "./keys.ts";
import {
  boolean,
  fecPolicy,
  hexAtLeast,
  hexExact,
  intRange,
  listenAddress,
  nonNegativeInt,
  oneOf,
  paddingPolicy,
  positiveInt,
  secretText,
  socketAddress,
  text,
  url,
  urlPath,
} from "./kinds.ts";
import {
  checkTurnServer,
  federationPeers,
  trustedProxies,
  turnServersFromRecord,
  turnUrls,
} from "./tables.ts";

const MiB = 1024 * 1024;

const server = z.strictObject({
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

const storage = z.strictObject({
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

const presence = z.strictObject({
  backend: key(oneOf(["memory", "redis"]), "memory", {
    env: "COMMUCAT_PRESENCE_BACKEND",
    description: "New. Where presence lives: in process, or Redis (needs `storage.redis_url`).",
  }),
});

const crypto = z.strictObject({
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

const federation = z.strictObject({
  ca_file: optional(text("path"), {
    example: "/etc/commucat/federation-ca.pem",
    env: "COMMUCAT_FEDERATION_CA_FILE",
    description: "PEM file of extra CA certificates trusted for outbound federation requests " +
      "(besides the system roots), e.g. peers' self-signed certificates.",
  }),
  peers: list(
    federationPeers,
    {
      type: "peer list",
      expected: 'a "domain,endpoint,pubkey;…" string or an array of tables',
      env: "string",
    },
    [],
    {
      example: "peer.example.org,https://peer.example.org:8443,<64 hex characters>",
      env: "COMMUCAT_FEDERATION_PEERS",
      defaultText: "[] (none)",
      description: "Static peers (always active unless blocked in the store; `endpoint` is the " +
        "peer's base URL): the upstream string `domain,endpoint,pubkeyhex32;…` or " +
        "`[[federation.peers]]` tables with `domain`, `endpoint`, `public_key` (Ed25519, hex32).",
    },
  ),
});

const ledger = z.strictObject({
  mode: key(oneOf(["null", "debug", "file"]), "null", {
    env: "COMMUCAT_LEDGER",
    description: "Audit ledger: discard, log, or append to `ledger.target`.",
  }),
  target: optional(text("path"), {
    example: "./var/ledger.jsonl",
    env: "COMMUCAT_LEDGER_TARGET",
    description: 'Ledger file; required when `ledger.mode = "file"`.',
  }),
});

const limits = z.strictObject({
  presence_ttl: key(positiveInt(), 30, {
    env: "COMMUCAT_PRESENCE_TTL",
    description: "Presence entry lifetime, seconds.",
  }),
  relay_ttl: key(positiveInt(), 86_400, {
    env: "COMMUCAT_RELAY_TTL",
    description: "Offline queue lifetime, seconds: a frame not delivered by then is dropped.",
  }),
  offline_queue_frames: key(positiveInt(), 10_000, {
    env: "COMMUCAT_OFFLINE_QUEUE_FRAMES",
    description: "New. Frames the offline queue holds for one device; a sender over it gets " +
      "an Error `queue_full` instead of an Ack.",
  }),
  offline_queue_bytes: key(positiveInt(), 64 * MiB, {
    env: "COMMUCAT_OFFLINE_QUEUE_BYTES",
    defaultText: "67108864 (64 MiB)",
    description: "New. Payload bytes the offline queue holds for one device (as above).",
  }),
  offline_queue_sender_frames: key(positiveInt(), 100_000, {
    env: "COMMUCAT_OFFLINE_QUEUE_SENDER_FRAMES",
    description: "New. Frames one user may have waiting in all offline queues together " +
      "(a group message counts once per offline member).",
  }),
  offline_queue_sender_bytes: key(positiveInt(), 256 * MiB, {
    env: "COMMUCAT_OFFLINE_QUEUE_SENDER_BYTES",
    defaultText: "268435456 (256 MiB)",
    description: "New. Payload bytes one user may have waiting in all offline queues together.",
  }),
  pairing_ttl: key(positiveInt(), 300, {
    env: "COMMUCAT_PAIRING_TTL",
    description: "Pairing code lifetime, seconds.",
  }),
});

const router = z.strictObject({
  durable_copy_delay_ms: key(intRange(0, 5_000), 200, {
    env: "COMMUCAT_DURABLE_COPY_DELAY_MS",
    description: "New. The durable-copy window: a queued-type frame (Msg…) delivered live is " +
      "written to the recipient's offline queue only if the recipient has not acknowledged it " +
      "within this time; the sender's Ack waits for that acknowledgement or the write, so it " +
      "still means durable (docs/PROTOCOL.md §4). 0 = every copy is written before the Ack. " +
      'With several instances (`presence.backend = "redis"`) it covers recipients connected to ' +
      "another instance too: the copy is held by the sending instance and carried on the bus, " +
      'and written only if not acknowledged in time (PROTOCOL.md §4 "Several instances"). ' +
      "Default 200: above the SDK's 20 ms delivery-ack delay plus a round trip of up to ~180 ms, " +
      "so most copies are never written; it is also the longest an Ack waits on a recipient " +
      "that does not acknowledge.",
  }),
});

const uploads = z.strictObject({
  dir: key(text("path"), `${DATA_DIR}/uploads`, {
    env: "COMMUCAT_UPLOADS_DIR",
    description: "Directory for uploaded avatars. Upstream default: `var/uploads`.",
  }),
  base_url: key(text("URL"), "https://{domain}/uploads", {
    env: "COMMUCAT_UPLOADS_BASE_URL",
    description: "Public URL prefix of uploads; `{domain}` expands to `server.domain`.",
  }),
  max_bytes_per_user: key(intRange(1, 10 * MiB), 5 * MiB, {
    env: "COMMUCAT_UPLOADS_MAX_BYTES_PER_USER",
    defaultText: "5242880 (5 MiB)",
    description: "New. Per-user upload quota: a user keeps one avatar of at most this many " +
      "bytes; a new upload replaces (deletes) the previous one. Upstream kept every upload.",
  }),
});

const web = z.strictObject({
  enabled: key(boolean(), true, {
    env: "COMMUCAT_WEB_ENABLED",
    description: "New. Serve the web client under `/app/` (built by `deno task web:build`). " +
      "When false, `/app` is not served and everything else works as before.",
  }),
});

/** Type of an integer key with a default. */
type IntKey = ReturnType<typeof key<ReturnType<typeof positiveInt>["schema"]>>;

function rateLimit<P extends string>(
  scope: P,
  burst: number,
  window: number,
  penalty: number,
  what: string,
): Record<`${P}_burst` | `${P}_window_ms` | `${P}_penalty_ms`, IntKey> {
  const env = `COMMUCAT_RATE_${scope.toUpperCase()}`;
  return {
    [`${scope}_burst`]: key(positiveInt(), burst, {
      env: `${env}_BURST`,
      description: `Requests allowed per window, ${what}.`,
    }),
    [`${scope}_window_ms`]: key(positiveInt(), window, {
      env: `${env}_WINDOW_MS`,
      description: `Sliding window, ms (${scope}).`,
    }),
    [`${scope}_penalty_ms`]: key(nonNegativeInt(), penalty, {
      env: `${env}_PENALTY_MS`,
      description:
        `Block time after exceeding the burst, ms; 0 = no block, retry after the window (${scope}).`,
    }),
  } as Record<`${P}_burst` | `${P}_window_ms` | `${P}_penalty_ms`, IntKey>;
}

const rateLimits = z.strictObject({
  ...rateLimit("http", 60, 1_000, 10_000, "HTTP (everything but /connect)"),
  ...rateLimit("connect", 20, 1_000, 30_000, "/connect"),
  ...rateLimit("pairing", 5, 60_000, 120_000, "pairing claims"),
});

function rotation<P extends "noise" | "admin">(
  scope: P,
  interval: number,
  grace: number,
  max: number,
): Record<`${P}_interval_hours` | `${P}_grace_hours` | `${P}_max_versions`, IntKey> {
  const env = `COMMUCAT_ROTATE_${scope.toUpperCase()}`;
  const what = scope === "noise" ? "Noise static key" : "admin token";
  return {
    [`${scope}_interval_hours`]: key(positiveInt(), interval, {
      env: `${env}_INTERVAL_HOURS`,
      description: `Hours between ${what} rotations.`,
    }),
    [`${scope}_grace_hours`]: key(nonNegativeInt(), grace, {
      env: `${env}_GRACE_HOURS`,
      description: `Hours a rotated-out ${what} stays valid.`,
    }),
    [`${scope}_max_versions`]: key(positiveInt(), max, {
      env: `${env}_MAX_VERSIONS`,
      description: `Most ${what} versions kept.`,
    }),
  } as Record<`${P}_interval_hours` | `${P}_grace_hours` | `${P}_max_versions`, IntKey>;
}

const secretRotation = z.strictObject({
  ...rotation("noise", 168, 48, 3),
  admin_enabled: optional(boolean(), {
    example: true,
    env: "COMMUCAT_ROTATE_ADMIN_ENABLED",
    defaultText: "true iff `admin.token` is set",
    description: "Rotate admin tokens periodically.",
  }),
  ...rotation("admin", 168, 72, 2),
});

const security = z.strictObject({
  rate_limit: rateLimits.prefault({}),
  rotation: secretRotation.prefault({}),
  trusted_proxies: list(
    trustedProxies,
    {
      type: "IP/CIDR list",
      expected: "a comma-separated string or an array of IPs / CIDRs",
      env: "string",
    },
    [],
    {
      example: "10.0.0.0/8,::1",
      env: "COMMUCAT_TRUSTED_PROXIES",
      defaultText: "[] (none)",
      description: "New. Reverse proxies whose `X-Forwarded-For` is honoured (IPs or CIDRs, " +
        "IPv4/IPv6); empty → the socket peer is the client. Upstream keyed limits on ip:port.",
    },
  ),
});

const deviceRotation = z.strictObject({
  enabled: key(boolean(), true, {
    env: "COMMUCAT_ROTATION_DEVICE_ENABLED",
    description: "Allow device key rotation (`POST /api/device/csr`).",
  }),
  min_interval: key(nonNegativeInt(), 86_400, {
    env: "COMMUCAT_ROTATION_DEVICE_MIN_INTERVAL",
    description: "Minimum seconds between rotations of one device.",
  }),
  proof_ttl: key(positiveInt(), 600, {
    env: "COMMUCAT_ROTATION_DEVICE_PROOF_TTL",
    description: "Lifetime of a rotation proof, seconds.",
  }),
  notify_channel: key(intRange(0, 0xffff_ffff), 0, {
    env: "COMMUCAT_ROTATION_DEVICE_NOTIFY_CHANNEL",
    description: "CCP channel for KeyUpdate / friend-request GroupEvent notifications.",
  }),
});

const turnServer = z.strictObject({
  urls: requiredList(
    turnUrls,
    {
      type: "URL list",
      expected: "stun:/turn: URLs",
      env: "string",
    },
    {
      defaultText: "— (required in each table)",
      example: "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
      description: "TURN/STUN URLs: comma-separated string or array, handed to call " +
        "participants with credentials in the Acks of their CallOffer / accepting CallAnswer " +
        "(`ice_servers`).",
    },
  ),
  secret: optional(text(), {
    secret: true,
    example: "<coturn static-auth-secret>",
    description: "coturn REST shared secret (time-limited credentials); or username+password.",
  }),
  username: optional(text(), {
    example: "commucat",
    description: "Static TURN username (with `password`).",
  }),
  password: optional(text(), {
    secret: true,
    example: "<password>",
    description: "Static TURN password.",
  }),
  realm: optional(text(), {
    example: "example.org",
    description: "TURN realm advertised to clients.",
  }),
}).superRefine(checkTurnServer);

const ice = z.strictObject({
  lite_enabled: key(boolean(), false, {
    env: "COMMUCAT_ICE_LITE_ENABLED",
    description: "Run the built-in UDP STUN (ICE-lite) responder: real XOR-MAPPED-ADDRESS, " +
      "MESSAGE-INTEGRITY from the calls' ICE credentials, FINGERPRINT. Needs --allow-net for " +
      "`ice.lite_bind`.",
  }),
  lite_bind: optional(socketAddress(), {
    example: "0.0.0.0:3478",
    env: "COMMUCAT_ICE_LITE_BIND",
    defaultText: "`0.0.0.0:3478` when enabled",
    description: "UDP address of the ICE-lite responder.",
  }),
  lite_public_address: optional(socketAddress(), {
    example: "203.0.113.10:3478",
    env: "COMMUCAT_ICE_LITE_PUBLIC_ADDRESS",
    description: "Public address for an ICE-lite host candidate (default: `ice.lite_bind`). " +
      "Not used yet: the server advertises no candidate; the STUN answer carries the " +
      "requester's own address.",
  }),
  turn_ttl: key(positiveInt(), 600, {
    env: "COMMUCAT_ICE_TURN_TTL",
    description: "Lifetime of TURN REST credentials, seconds (at least 60 is used).",
  }),
  turn: z.record(
    z.string().regex(/^[A-Za-z0-9_-]+$/, { error: "expected a TURN server name [A-Za-z0-9_-]" }),
    turnServer,
  ).prefault({}).transform(turnServersFromRecord),
});

const calls = z.strictObject({
  max_active: key(positiveInt(), 1000, {
    env: "COMMUCAT_CALLS_MAX_ACTIVE",
    description: "New. Calls in progress on this server at most; a CallOffer beyond gets an " +
      "Error `unavailable`.",
  }),
  max_participants: key(intRange(2, 256), 16, {
    env: "COMMUCAT_CALLS_MAX_PARTICIPANTS",
    description: "New. Participants (route members at offer time) of one call at most.",
  }),
  ring_timeout: key(positiveInt(), 60, {
    env: "COMMUCAT_CALLS_RING_TIMEOUT",
    description: "New. Seconds an offer waits for a first acceptance before the server ends " +
      "it (system CallEnd `timeout`).",
  }),
  transcode_audio_streams: key(nonNegativeInt(), 64, {
    env: "COMMUCAT_CALLS_TRANSCODE_AUDIO_STREAMS",
    description: "New. RAW PCM streams (one per sending participant) the server encodes to Opus " +
      "at most, in a WebAssembly Worker; 0 = none (offers with RAW audio get `unavailable`).",
  }),
  transcode_video_streams: key(nonNegativeInt(), 2, {
    env: "COMMUCAT_CALLS_TRANSCODE_VIDEO_STREAMS",
    description: "New. RAW I420 streams the server encodes to VP8/VP9 at most (libav.js in a " +
      "WebAssembly Worker; about 3 at 640×480, 30 fps, per core); 0 = none.",
  }),
  libav_wasm: optional(text("path"), {
    example: "/opt/libav.js/libav-6.10.9.0-webm-vp9.wasm.wasm",
    env: "COMMUCAT_CALLS_LIBAV_WASM",
    defaultText: "the .wasm of the npm package `@libav.js/variant-webm-vp9` 6.10.9",
    description: "New. The libav.js (LGPL-2.1) WebAssembly build the video Worker loads; " +
      "replace it with your own build of the same libav.js version.",
  }),
});

const admin = z.strictObject({
  token: optional(secretText(16), {
    example: "<a long random string>",
    env: "COMMUCAT_ADMIN_TOKEN",
    secret: true,
    description: "Bootstrap admin bearer token, stored hashed at the first start when no admin " +
      "token is stored yet (absent → one is generated into `<data_dir>/admin-token`, mode 0600); later changes are " +
      "ignored with a warning: use `commucat admin-token create`.",
  }),
});

const shadowsocks = z.strictObject({
  bind: optional(listenAddress(), {
    example: "0.0.0.0:8388",
    env: "COMMUCAT_SHADOWSOCKS_BIND",
    description: "New. Shadowsocks AEAD (SIP004) listener: clients (e.g. through ss-local) reach " +
      "the same server through the tunnel and speak TLS inside it. Unset → no listener; " +
      "set → `transport.shadowsocks.password` is required.",
  }),
  method: key(oneOf(["chacha20-ietf-poly1305", "aes-256-gcm"]), "chacha20-ietf-poly1305", {
    env: "COMMUCAT_SHADOWSOCKS_METHOD",
    description: "New. The Shadowsocks AEAD cipher.",
  }),
  password: optional(secretText(8), {
    example: "<a long random string>",
    env: "COMMUCAT_SHADOWSOCKS_PASSWORD",
    secret: true,
    description: "New. The Shadowsocks password (key = EVP_BytesToKey(MD5)); never logged.",
  }),
});

const pt = z.strictObject({
  bind: optional(listenAddress(), {
    example: "0.0.0.0:9443",
    env: "COMMUCAT_PT_BIND",
    description: "New. Tor pluggable-transport listener: the server runs `transport.pt.binary` " +
      "(obfs4proxy) as a child in managed mode on this public address and accepts what it " +
      "decrypts; clients speak TLS inside the tunnel. Unset → no child. The serve task then " +
      "needs `--allow-run=<binary>` and `--allow-net` for this address (docs/OPERATIONS.md).",
  }),
  binary: key(text("path"), "obfs4proxy", {
    env: "COMMUCAT_PT_BINARY",
    description: "New. The PT server binary (a path, or a name found on PATH), e.g. " +
      "`/usr/bin/obfs4proxy` or `lyrebird`.",
  }),
  transport: key(text("name"), "obfs4", {
    env: "COMMUCAT_PT_TRANSPORT",
    description: "New. The transport the binary serves (`TOR_PT_SERVER_TRANSPORTS`).",
  }),
  state_dir: key(text("path"), `${DATA_DIR}/pt`, {
    env: "COMMUCAT_PT_STATE_DIR",
    description: "New. The PT's state directory (its keys: the bridge line's `cert` stays the " +
      "same across restarts while this directory is kept).",
  }),
  options: optional(text("k=v;k=v"), {
    example: "iat-mode=1",
    env: "COMMUCAT_PT_OPTIONS",
    description: "New. Server options for the transport (`TOR_PT_SERVER_TRANSPORT_OPTIONS`); " +
      "obfs4: `iat-mode=1` or `2` hides packet timing at a large throughput cost " +
      "(docs/PERFORMANCE.md).",
  }),
});

const transport = z.strictObject({
  reality_cert: optional(text("path"), {
    example: "/etc/commucat/reality.pem",
    env: "COMMUCAT_REALITY_CERT",
    description: "Upstream's REALITY certificate. Not supported: a set value is a config error " +
      "(no REALITY peer implementation exists here to build and test against).",
  }),
  reality_fingerprint: optional(hexExact(32), {
    example: "<64 hex characters>",
    env: "COMMUCAT_REALITY_FINGERPRINT",
    description: "Upstream's REALITY fingerprint. Not supported: a set value is a config error.",
  }),
  websocket_path: optional(urlPath(), {
    example: "/c7f3a9d2",
    env: "COMMUCAT_WEBSOCKET_PATH",
    description: "New. A second path serving `/connect` (every mode; meant for WebSocket), for a " +
      "CDN or reverse proxy that forwards one unguessable path: clients list it as a " +
      "`websocket` transport. Unset → only `/connect`.",
  }),
  shadowsocks: shadowsocks.prefault({}),
  pt: pt.prefault({}),
});

const log = z.strictObject({
  level: key(oneOf(["trace", "debug", "info", "warning", "error"]), "info", {
    env: "COMMUCAT_LOG_LEVEL",
    description: "New. Minimum log level. Upstream: `RUST_LOG`.",
  }),
  format: key(oneOf(["json", "pretty"]), "json", {
    env: "COMMUCAT_LOG_FORMAT",
    description: "New. JSON lines or human-readable logs.",
  }),
});

const multipath = z.strictObject({
  enabled: key(boolean(), true, {
    env: "COMMUCAT_MULTIPATH_ENABLED",
    description:
      'New. Multipath sessions (docs/PROTOCOL.md §7): a client with the Hello capability "multipath" ' +
      "may attach more `/connect` paths to its session; false → such a client gets an ordinary " +
      "session and `/connect?attach` answers 404.",
  }),
  max_paths: key(intRange(2, 16), 4, {
    env: "COMMUCAT_MULTIPATH_MAX_PATHS",
    description: "New. Paths one multipath session may have at once (the first included).",
  }),
  linger_ms: key(intRange(0, 600_000), 15_000, {
    env: "COMMUCAT_MULTIPATH_LINGER_MS",
    description: "New. How long a multipath session with no path left waits for one to be " +
      "attached again before it is closed.",
  }),
  policy: key(fecPolicy(), "auto", {
    env: "COMMUCAT_MULTIPATH_POLICY",
    description:
      "New. How units are spread over the paths: `auto` (one path: single; two: a copy " +
      "on each; three or more: RaptorQ with overhead 1/(n−1)+0.05 toward clients that decode it, " +
      "for what one event-loop turn sends when it is 32 KiB or more, else a copy on two of the " +
      "paths), " +
      "`off` (round-robin, no redundancy), `duplicate`, or `raptorq[:<overhead>]` (at least that " +
      "overhead).",
  }),
});

/** The file's shape (snake_case sections and keys), before cross-key rules. */
export const rawConfigSchema = z.strictObject({
  server: server.prefault({}),
  storage: storage.prefault({}),
  presence: presence.prefault({}),
  crypto: crypto.prefault({}),
  federation: federation.prefault({}),
  ledger: ledger.prefault({}),
  limits: limits.prefault({}),
  router: router.prefault({}),
  uploads: uploads.prefault({}),
  security: security.prefault({}),
  rotation: z.strictObject({ device: deviceRotation.prefault({}) }).prefault({}),
  ice: ice.prefault({}),
  calls: calls.prefault({}),
  admin: admin.prefault({}),
  transport: transport.prefault({}),
  multipath: multipath.prefault({}),
  log: log.prefault({}),
  web: web.prefault({}),
});

/** Output of {@linkcode rawConfigSchema}. */
export type RawConfig = z.output<typeof rawConfigSchema>;

/**
 * The configuration schema: file/env shape in, frozen-ready camelCase
 * {@linkcode Config} out, with every cross-key rule applied.
 */
export const configSchema = rawConfigSchema
  .superRefine(checkConfig)
  .transform((raw, ctx) => camelize(deriveConfig(raw, ctx)));

/**
 * The loaded configuration: sections mirror the file (`config.server.bind`,
 * `config.limits.relayTtl`, `config.security.rateLimit.httpBurst`); keys are
 * camelCase; `<data_dir>` and `{domain}` are already expanded.
 */
export type Config = z.output<typeof configSchema>;
