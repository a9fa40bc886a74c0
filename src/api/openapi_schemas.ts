/**
 * Zod schemas that exist for the OpenAPI document only: response bodies,
 * and the two request bodies whose handlers validate by hand to keep
 * upstream's exact error texts (`PUT /api/friends`, `POST /api/device/csr`;
 * tests/openapi_test.ts checks those schemas agree with the handlers).
 * Bodies validated with zod are documented from the handlers' own schemas.
 *
 * @module
 */
import { z } from "zod";
import { SESSION_PATTERN_NAMES } from "../crypto/mod.ts";
import { MAX_FRIENDS } from "./friends.ts";

const hex32 = z.string().regex(/^[0-9a-f]{64}$/).describe("32 bytes, lowercase hex");
const time = z.string().describe("RFC 3339 UTC, second precision");

/** A problem+json error (RFC 9457), the body of every error response. */
export const problemSchema = z.object({
  type: z.literal("about:blank"),
  title: z.string().describe("the status text, e.g. Unauthorized"),
  status: z.number().int(),
  detail: z.string().optional().describe("what went wrong, for humans"),
});

/** PUT /api/friends (checked by `parseFriendsPayload`, texts as upstream). */
export const friendsBody = z.object({
  friends: z.array(
    z.strictObject({
      user_id: z.string().regex(/\S/).describe("trimmed; unique in the list"),
      alias: z.string().nullish().describe("empty or blank → no alias"),
    }),
  ).max(MAX_FRIENDS).describe("user ids unique (trimmed)")
    .refine((list) => new Set(list.map((f) => f.user_id.trim())).size === list.length),
});

/** POST /api/device/csr (checked by `rotateDeviceKey`, texts as upstream §5.5). */
export const csrBody = z.object({
  public_key: hex32.describe("the new Ed25519 public key (hex, 32 bytes)"),
  signature: z.string().regex(/^[0-9a-fA-F]{128}$/).describe(
    "Ed25519 signature by the current key over the rotation proof (hex, 64 bytes)",
  ),
  expires_at: z.string().describe(
    "RFC 3339 with zone; in the future and within rotation.device.proof_ttl",
  ),
  nonce: z.string().regex(/^([0-9a-fA-F]{2})+$/).nullish().describe("optional hex nonce"),
});

/** A device certificate; `serial` is a u64 JSON integer (parse it big-integer-aware). */
export const certificateSchema = z.object({
  serial: z.number().describe("u64 integer: may exceed 2^53, parse it big-integer-aware"),
  user_id: z.string(),
  device_id: z.string(),
  public_key: hex32,
  issuer: hex32,
  issued_at: z.int().describe("unix seconds"),
  expires_at: z.int().describe("unix seconds"),
  signature: z.string(),
});

const noiseKey = z.object({
  version: z.int(),
  public: hex32,
  valid_after: z.string(),
  rotates_at: z.string(),
  expires_at: z.string(),
  pq_signing_public: z.string().regex(/^[0-9a-f]{3904}$/).optional()
    .describe("ML-DSA-65 public key of this version (signs hybrid handshakes)"),
});

/** GET /api/server-info */
export const serverInfoSchema = z.object({
  device_ca_public: hex32,
  device_rotation: z.object({
    enabled: z.boolean(),
    min_interval_seconds: z.int(),
    proof_ttl_seconds: z.int(),
  }),
  domain: z.string(),
  noise_keys: z.array(noiseKey).describe("active Noise static keys, newest first"),
  noise_public: hex32,
  pairing: z.object({
    auto_approve: z.boolean(),
    max_auto_devices: z.int(),
    pairing_ttl: z.int(),
  }),
  post_quantum: z.object({
    enabled: z.boolean(),
    policy: z.enum(["off", "prefer", "require"]).describe("crypto.pq"),
    kem_algorithm: z.string().nullable(),
    kem_public_hex: z.string().nullable().describe("always null: the KEM key is per handshake"),
    signature_algorithm: z.string().nullable(),
    signing_public: z.string().nullable()
      .describe("ML-DSA-65 public key of the newest Noise key version; clients pin it"),
    patterns: z.array(z.enum(SESSION_PATTERN_NAMES)).describe("hybrid patterns accepted"),
  }),
  presence: z.object({ ttl_seconds: z.int() }),
  session: z.object({ keepalive_interval: z.int(), ttl_seconds: z.int() }),
  supported_patterns: z.array(z.enum(SESSION_PATTERN_NAMES)),
  supported_versions: z.array(z.int()),
});

/** GET /api/security-stats */
export const securityStatsSchema = z.object({
  noise_handshakes: z.number(),
  pq_handshakes: z.number(),
  fec_packets: z.number(),
  multipath_sessions: z.number(),
  average_paths: z.number(),
  censorship_deflections: z.number(),
});

/** POST /api/pair */
export const pairingIssuedSchema = z.object({
  pair_code: z.string().regex(/^[A-Z2-9]{5}-[A-Z2-9]{5}-[A-Z2-9]{5}$/),
  issued_at: time,
  expires_at: time,
  ttl: z.int(),
  issuer_device_id: z.string(),
  device_ca_public: hex32,
});

const userSnapshot = z.object({
  avatar_url: z.string().nullable(),
  display_name: z.string().nullable(),
  handle: z.string(),
  id: z.string(),
  user_id: z.string(),
});

/** POST /api/pair/claim */
export const pairingClaimedSchema = z.object({
  device_id: z.string(),
  private_key: hex32.describe("the new device's Ed25519 seed"),
  public_key: hex32,
  seed: hex32,
  issuer_device_id: z.string(),
  user_id: z.string(),
  user: userSnapshot,
  device_ca_public: hex32,
  device_name: z.string().optional(),
  device_certificate: certificateSchema,
});

const friendDevice = z.object({
  device_id: z.string(),
  public_key: hex32,
  status: z.string(),
  created_at: time,
  last_rotated_at: time.optional(),
});

/** GET and PUT /api/friends */
export const friendsSchema = z.object({
  friends: z.array(z.object({
    user_id: z.string(),
    handle: z.string().optional().describe("absent for a user no longer known"),
    alias: z.string().optional(),
  })),
  devices: z.record(z.string(), z.array(friendDevice)).describe("by user id"),
});

/** GET /api/friends/{id}/devices */
export const friendDevicesSchema = z.object({
  friend: z.string(),
  devices: z.array(friendDevice),
});

const friendRequest = z.object({
  id: z.string(),
  from_user_id: z.string(),
  to_user_id: z.string(),
  status: z.enum(["pending", "accepted", "rejected"]),
  message: z.string().nullable(),
  created_at: time,
  updated_at: time,
});

const publicUser = z.object({
  user_id: z.string(),
  handle: z.string(),
  display_name: z.string().nullable(),
  avatar_url: z.string().nullable(),
});

/** GET /api/friends/requests */
export const friendRequestsSchema = z.object({
  incoming: z.array(friendRequest.extend({ from_handle: z.string().optional() })).describe(
    "pending only",
  ),
  outgoing: z.array(friendRequest.extend({ to_handle: z.string().optional() })),
});

/** POST /api/friends/requests/{id} */
export const friendRequestSentSchema = z.object({ request: friendRequest, to_user: publicUser });

/** POST /api/friends/requests/{id}/accept and /reject */
export const friendRequestAnsweredSchema = z.object({
  request: friendRequest,
  from_user: publicUser,
});

/** POST /api/users/me/avatar */
export const avatarSchema = z.object({ avatar_url: z.string(), filename: z.string() });

/** GET /api/devices */
export const devicesSchema = z.object({
  devices: z.array(z.object({
    device_id: z.string(),
    status: z.string(),
    created_at: time,
    public_key: hex32,
    current: z.boolean().describe("the calling device"),
  })),
});

/** POST /api/devices/revoke */
export const revokedSchema = z.object({ device_id: z.string(), status: z.literal("revoked") });

/** PUT /api/devices/pq-keys, GET /api/devices/{id}/pq-keys */
export const devicePqKeysSchema = z.object({
  device_id: z.string(),
  user_id: z.string(),
  device_public: hex32.describe("the Ed25519 device key that signed them"),
  kem_public: z.string().regex(/^[0-9a-f]{2368}$/).describe("ML-KEM-768 encapsulation key"),
  signature_public: z.string().regex(/^[0-9a-f]{3904}$/).describe("ML-DSA-65 public key"),
  signature: z.string().regex(/^[0-9a-f]{128}$/).describe("Ed25519 signature of the device key"),
  updated_at: time,
});

/** POST /api/device/csr */
export const rotatedSchema = z.object({
  device_id: z.string(),
  user_id: z.string(),
  public_key: hex32,
  old_public_key: hex32,
  rotation_id: z.string(),
  event_id: z.string(),
  applied_at: time,
  proof_expires_at: time,
  certificate: certificateSchema,
});

/** GET /healthz */
export const healthSchema = z.object({
  status: z.enum(["healthy", "stopping"]),
  version: z.string(),
  uptime_seconds: z.int(),
  domain: z.string(),
  storage: z.string(),
  connections: z.object({
    established: z.int(),
    open: z.int(),
    by_mode: z.record(z.string(), z.int()),
  }),
  handshakes: z.object({ ok: z.int(), failed: z.int() }),
  frames: z.object({ ingress: z.int(), egress: z.int() }),
  relay: z.object({ live: z.int(), enqueued: z.int() }),
});

/** GET /readyz */
export const readySchema = z.object({
  status: z.enum(["ready", "degraded"]),
  checks: z.record(z.string(), z.string()).describe('"ok" or what failed, per check'),
});

const level = z.enum(["Low", "Medium", "High"]);

/** GET|POST /api/p2p/assist */
export const assistSchema = z.object({
  noise: z.object({
    patterns: z.array(z.string()),
    static_public_hex: z.string(),
    prologue_hex: z.string(),
  }),
  transports: z.array(z.object({
    kind: z.string(),
    transport: z.string(),
    resistance: z.enum(["Basic", "Enhanced", "Maximum", "Paranoid"]),
    latency: level,
    throughput: level,
    port: z.int(),
    modes: z.array(z.string()),
    /** `websocket-path` only: the path `/connect` is also served at (`transport.websocket_path`). */
    path: z.string().optional(),
  })),
  paths: z.array(z.object({
    path_id: z.string(),
    mode: z.string(),
    network_quality: z.object({
      rtt_ms: z.number().nullable(),
      jitter_ms: z.number().nullable(),
      packet_loss_percent: z.number(),
      bandwidth_kbps: z.null(),
      quality_score: z.int(),
      quality_label: z.enum(["excellent", "good", "fair", "poor", "critical"]),
      probe_method: z.literal("path_echo"),
      samples: z.int(),
    }).nullable(),
  })),
  multipath: z.object({
    live_paths: z.int(),
    planned_paths: z.int(),
    schedule: z.enum(["single", "duplicate", "raptorq"]),
    primary_path: z.string().nullable(),
    recommended_paths: z.array(z.string()),
    fec_mtu: z.int(),
    fec_overhead: z.number(),
    survives_one_path_loss: z.boolean(),
    sample_segments: z.record(z.string(), z.object({ total: z.int(), repair: z.int() })),
  }),
  fec: z.object({
    scheme: z.literal("RaptorQ"),
    packet_version: z.int(),
    symbol_size: z.int(),
    repair_overhead: z.number(),
    repair_overhead_rule: z.string(),
    repair_esi_from: z.literal("K'"),
    max_object_bytes: z.int(),
  }),
  obfuscation: z.object({
    reality_fingerprint_hex: z.null(),
    domain_fronting: z.boolean(),
    protocol_mimicry: z.boolean(),
    tor_bridge: z.boolean(),
  }),
  keepalive: z.object({ enabled: z.boolean(), ping_interval_secs: z.number() }),
  reconnect: z.object({
    strategy: z.literal("exponential_backoff"),
    initial_backoff_secs: z.number(),
    max_backoff_secs: z.number(),
    max_attempts: z.int(),
  }),
});
