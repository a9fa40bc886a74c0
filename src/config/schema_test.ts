import assert from "node:assert/strict";
import { configSchema } from "./schema.ts";
import { CONFIG_KEYS } from "./tree.ts";

/** §13.2 of the upstream digest: key → env var (names kept on purpose). */
const UPSTREAM: Record<string, string> = {
  "server.bind": "COMMUCAT_BIND",
  "server.tls_cert": "COMMUCAT_TLS_CERT",
  "server.tls_key": "COMMUCAT_TLS_KEY",
  "server.domain": "COMMUCAT_DOMAIN",
  "server.keepalive": "COMMUCAT_KEEPALIVE",
  "server.auto_approve_devices": "COMMUCAT_AUTO_APPROVE_DEVICES",
  "server.max_auto_devices_per_user": "COMMUCAT_MAX_AUTO_DEVICES",
  "storage.postgres_dsn": "COMMUCAT_PG_DSN",
  "storage.redis_url": "COMMUCAT_REDIS_URL",
  "crypto.noise_private": "COMMUCAT_NOISE_PRIVATE",
  "crypto.noise_public": "COMMUCAT_NOISE_PUBLIC",
  "crypto.federation_seed": "COMMUCAT_FEDERATION_SEED",
  "crypto.prologue": "COMMUCAT_NOISE_PROLOGUE",
  "federation.peers": "COMMUCAT_FEDERATION_PEERS",
  "ledger.mode": "COMMUCAT_LEDGER",
  "ledger.target": "COMMUCAT_LEDGER_TARGET",
  "limits.presence_ttl": "COMMUCAT_PRESENCE_TTL",
  "limits.relay_ttl": "COMMUCAT_RELAY_TTL",
  "limits.pairing_ttl": "COMMUCAT_PAIRING_TTL",
  "uploads.dir": "COMMUCAT_UPLOADS_DIR",
  "uploads.base_url": "COMMUCAT_UPLOADS_BASE_URL",
  "security.rate_limit.http_burst": "COMMUCAT_RATE_HTTP_BURST",
  "security.rate_limit.http_window_ms": "COMMUCAT_RATE_HTTP_WINDOW_MS",
  "security.rate_limit.http_penalty_ms": "COMMUCAT_RATE_HTTP_PENALTY_MS",
  "security.rate_limit.connect_burst": "COMMUCAT_RATE_CONNECT_BURST",
  "security.rate_limit.connect_window_ms": "COMMUCAT_RATE_CONNECT_WINDOW_MS",
  "security.rate_limit.connect_penalty_ms": "COMMUCAT_RATE_CONNECT_PENALTY_MS",
  "security.rate_limit.pairing_burst": "COMMUCAT_RATE_PAIRING_BURST",
  "security.rate_limit.pairing_window_ms": "COMMUCAT_RATE_PAIRING_WINDOW_MS",
  "security.rate_limit.pairing_penalty_ms": "COMMUCAT_RATE_PAIRING_PENALTY_MS",
  "security.rotation.noise_interval_hours": "COMMUCAT_ROTATE_NOISE_INTERVAL_HOURS",
  "security.rotation.noise_grace_hours": "COMMUCAT_ROTATE_NOISE_GRACE_HOURS",
  "security.rotation.noise_max_versions": "COMMUCAT_ROTATE_NOISE_MAX_VERSIONS",
  "security.rotation.admin_enabled": "COMMUCAT_ROTATE_ADMIN_ENABLED",
  "security.rotation.admin_interval_hours": "COMMUCAT_ROTATE_ADMIN_INTERVAL_HOURS",
  "security.rotation.admin_grace_hours": "COMMUCAT_ROTATE_ADMIN_GRACE_HOURS",
  "security.rotation.admin_max_versions": "COMMUCAT_ROTATE_ADMIN_MAX_VERSIONS",
  "rotation.device.enabled": "COMMUCAT_ROTATION_DEVICE_ENABLED",
  "rotation.device.min_interval": "COMMUCAT_ROTATION_DEVICE_MIN_INTERVAL",
  "rotation.device.proof_ttl": "COMMUCAT_ROTATION_DEVICE_PROOF_TTL",
  "rotation.device.notify_channel": "COMMUCAT_ROTATION_DEVICE_NOTIFY_CHANNEL",
  "ice.lite_enabled": "COMMUCAT_ICE_LITE_ENABLED",
  "ice.lite_bind": "COMMUCAT_ICE_LITE_BIND",
  "ice.lite_public_address": "COMMUCAT_ICE_LITE_PUBLIC_ADDRESS",
  "ice.turn_ttl": "COMMUCAT_ICE_TURN_TTL",
  "admin.token": "COMMUCAT_ADMIN_TOKEN",
  "transport.reality_cert": "COMMUCAT_REALITY_CERT",
  "transport.reality_fingerprint": "COMMUCAT_REALITY_FINGERPRINT",
};

Deno.test("every upstream key exists with the upstream env var", () => {
  const byKey = new Map(CONFIG_KEYS.map((d) => [d.key, d]));
  // Removed on purpose: hybrid handshakes use a fresh ML-KEM key each (crypto.pq).
  assert.ok(!byKey.has("crypto.pq_kem_public") && !byKey.has("crypto.pq_kem_secret"));
  for (const [key, env] of Object.entries(UPSTREAM)) {
    assert.equal(byKey.get(key)?.env, env, key);
  }
  for (const field of ["urls", "secret", "username", "password", "realm"]) {
    assert.ok(byKey.has(`ice.turn.<name>.${field}`), field);
  }
});

Deno.test("descriptors are complete and env vars unique", () => {
  const envs = new Set<string>();
  for (const d of CONFIG_KEYS) {
    assert.ok(d.description.length > 10, `${d.key}: description`);
    assert.ok(d.type !== "", `${d.key}: type`);
    assert.ok(d.optional || d.default !== undefined || d.key.includes("<name>"), d.key);
    if (d.env) {
      assert.match(d.env, /^COMMUCAT_[A-Z0-9_]+$/);
      assert.ok(!envs.has(d.env), `duplicate ${d.env}`);
      envs.add(d.env);
    }
  }
});

Deno.test("every default passes its own schema", () => {
  // Parsing an empty input applies every default through the schema.
  const result = configSchema.safeParse({});
  assert.ok(result.success, JSON.stringify(result.error?.issues));
});

Deno.test("secrets are flagged", () => {
  const secrets = CONFIG_KEYS.filter((d) => d.secret).map((d) => d.key).sort();
  assert.deepEqual(secrets, [
    "admin.token",
    "crypto.federation_seed",
    "crypto.noise_private",
    "ice.turn.<name>.password",
    "ice.turn.<name>.secret",
    "storage.postgres_dsn",
    "storage.redis_url",
    "transport.shadowsocks.password",
  ]);
});
