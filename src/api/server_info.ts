/**
 * `GET /api/server-info` (upstream §7) and the admin-only
 * `GET /api/security-stats`.
 *
 * @module
 */
import { findSessionPattern, SESSION_PATTERN_NAMES, toHex } from "../crypto/mod.ts";
import { requireAdmin } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { json, rfc3339 } from "./http.ts";

/** The public description of this server clients bootstrap from. */
export function serverInfo(deps: ApiDeps): Record<string, unknown> {
  const c = deps.config;
  const noise = deps.noise();
  const pq = c.pq ?? "prefer";
  // The patterns crypto.pq accepts: off → classical only, require → hybrid only.
  const accepted = SESSION_PATTERN_NAMES.filter((name) => {
    const hybrid = findSessionPattern(name)!.hybrid;
    return pq === "off" ? !hybrid : pq === "require" ? hybrid : true;
  });
  const signingPublic = noise.noise_keys[0]?.pq_signing_public ?? null;
  const pqEnabled = pq !== "off" && signingPublic !== null;
  return {
    device_ca_public: toHex(deps.ca.publicKey),
    device_rotation: {
      enabled: c.rotation.enabled,
      min_interval_seconds: c.rotation.minIntervalSeconds,
      proof_ttl_seconds: c.rotation.proofTtlSeconds,
    },
    domain: deps.domain,
    // PROTOCOL.md §5: REST times are RFC 3339 UTC with second precision.
    noise_keys: noise.noise_keys.map((key) => ({
      ...key,
      valid_after: rfc3339(Date.parse(key.valid_after)),
      rotates_at: rfc3339(Date.parse(key.rotates_at)),
      expires_at: rfc3339(Date.parse(key.expires_at)),
    })),
    noise_public: noise.noise_public,
    pairing: {
      auto_approve: c.autoApproveDevices,
      max_auto_devices: c.maxAutoDevicesPerUser,
      pairing_ttl: c.pairingTtlSeconds,
    },
    // PROTOCOL.md "Post-quantum hybrid handshakes": the KEM key is fresh per handshake
    // (kem_public_hex stays null); the signing key is the newest Noise key version's.
    post_quantum: {
      enabled: pqEnabled,
      policy: pq,
      kem_algorithm: pqEnabled ? "ML-KEM-768" : null,
      kem_public_hex: null,
      signature_algorithm: pqEnabled ? "ML-DSA-65" : null,
      signing_public: pqEnabled ? signingPublic : null,
      patterns: accepted.filter((name) => findSessionPattern(name)!.hybrid),
    },
    presence: { ttl_seconds: c.presenceTtlSeconds },
    session: {
      keepalive_interval: c.keepaliveIntervalSeconds,
      ttl_seconds: c.sessionTtlSeconds,
    },
    supported_patterns: accepted,
    supported_versions: [1],
  };
}

const SECURITY_STATS = [
  "noise_handshakes",
  "pq_handshakes",
  "fec_packets",
  "multipath_sessions",
  "average_paths",
  "censorship_deflections",
] as const;

/** GET /api/security-stats (admin token; upstream left it open). */
export async function securityStats(deps: ApiDeps, request: Request): Promise<Response> {
  await requireAdmin(deps, request);
  const stats = deps.securityStats?.() ?? {};
  return json(Object.fromEntries(SECURITY_STATS.map((k) => [k, stats[k] ?? 0])));
}
