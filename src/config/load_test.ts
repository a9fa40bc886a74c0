import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { loadConfig, loadConfigDetailed, type LoadOptions } from "./load.ts";

const NOISE_PRIVATE = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";
const NOISE_PUBLIC = "0d67bf305a47b22d47e102fdd00a3b9ae7c1948a480948d6b29604a613654f08";
const PEER_KEY = "ab".repeat(32);

/** Every temporary file of this module lives here; removed when the module's tests end. */
const root = Deno.makeTempDirSync({ prefix: "commucat-config-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

/** An empty directory: no default commucat.toml to pick up. */
const emptyDir = Deno.makeTempDirSync({ dir: root });

/** Writes `text` to a fresh commucat.toml and returns its path. */
function tomlFile(text: string): string {
  const dir = Deno.makeTempDirSync({ dir: root });
  const path = `${dir}/commucat.toml`;
  Deno.writeTextFileSync(path, text);
  return path;
}

function load(options: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: emptyDir, ...options });
}

/** The ConfigError message `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `message is not one line: ${e.message}`);
    assert.ok(e.message.startsWith("config: "));
    return e.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("no file and empty env: zero-config defaults", () => {
  const c = load();
  assert.equal(c.server.bind, "0.0.0.0:8443");
  assert.equal(c.server.domain, "localhost");
  assert.equal(c.server.tlsCert, undefined);
  assert.equal(c.server.dataDir, "./var");
  assert.equal(c.server.h2cBind, undefined);
  assert.equal(c.server.keepalive, 60);
  assert.equal(c.server.handshakeTimeoutMs, 10_000);
  assert.equal(c.server.maxHandshakesInFlight, 256);
  assert.equal(c.server.outboundQueueFrames, 1024);
  assert.equal(c.server.outboundQueueBytes, 4 * 1024 * 1024);
  assert.equal(c.server.shutdownGraceMs, 5000);
  assert.equal(c.server.autoApproveDevices, true);
  assert.equal(c.server.maxAutoDevicesPerUser, 1);
  assert.equal(c.storage.backend, "sqlite");
  assert.equal(c.storage.sqlitePath, "./var/commucat.db");
  assert.equal(c.storage.poolSize, 10);
  assert.equal(c.storage.postgresDsn, undefined);
  assert.equal(c.presence.backend, "memory");
  assert.equal(c.crypto.prologue, "commucat");
  assert.equal(c.crypto.noisePrivate, undefined);
  assert.deepEqual(c.federation.peers, []);
  assert.equal(c.ledger.mode, "null");
  assert.deepEqual(c.limits, {
    presenceTtl: 30,
    relayTtl: 86_400,
    offlineQueueFrames: 10_000,
    offlineQueueBytes: 64 * 1024 * 1024,
    offlineQueueSenderFrames: 100_000,
    offlineQueueSenderBytes: 256 * 1024 * 1024,
    pairingTtl: 300,
  });
  assert.deepEqual(c.uploads, {
    dir: "./var/uploads",
    baseUrl: "https://localhost/uploads",
    maxBytesPerUser: 5 * 1024 * 1024,
  });
  assert.equal(c.security.rateLimit.httpBurst, 60);
  assert.equal(c.security.rateLimit.connectPenaltyMs, 30_000);
  assert.equal(c.security.rateLimit.pairingWindowMs, 60_000);
  assert.equal(c.security.rotation.noiseMaxVersions, 3);
  assert.equal(c.security.rotation.adminEnabled, false);
  assert.equal(c.security.rotation.adminGraceHours, 72);
  assert.deepEqual(c.rotation.device, {
    enabled: true,
    minInterval: 86_400,
    proofTtl: 600,
    notifyChannel: 0,
  });
  assert.equal(c.ice.liteEnabled, false);
  assert.equal(c.ice.liteBind, undefined);
  assert.equal(c.ice.turnTtl, 600);
  assert.deepEqual(c.ice.turn, []);
  assert.equal(c.admin.token, undefined);
  assert.deepEqual(c.log, { level: "info", format: "json" });
});

Deno.test("the loaded config is deeply frozen", () => {
  const c = load();
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server) && Object.isFrozen(c.federation.peers));
  assert.throws(() => {
    (c.server as { bind: string }).bind = "x";
  }, TypeError);
});

Deno.test("TOML file values are read, derived values follow them", () => {
  const path = tomlFile(`
[server]
bind = "[::]:9443"
domain = "chat.example.org"
data_dir = "/srv/commucat/"
keepalive = 90
auto_approve_devices = false

[storage]
backend = "postgres"
postgres_dsn = "postgres://u:p@db:5432/commucat"

[security.rotation]
noise_max_versions = 5

[rotation.device]
notify_channel = 7

[ice]
lite_enabled = true

[admin]
token = "0123456789abcdef0123"
`);
  const { config: c, sources, file } = loadConfigDetailed({ path, env: {} });
  assert.equal(file, path);
  assert.equal(c.server.bind, "[::]:9443");
  assert.equal(c.server.domain, "chat.example.org");
  assert.equal(c.server.keepalive, 90);
  assert.equal(c.server.autoApproveDevices, false);
  assert.equal(c.storage.backend, "postgres");
  assert.equal(c.storage.sqlitePath, "/srv/commucat/commucat.db");
  assert.equal(c.uploads.dir, "/srv/commucat/uploads");
  assert.equal(c.uploads.baseUrl, "https://chat.example.org/uploads");
  assert.equal(c.security.rotation.noiseMaxVersions, 5);
  assert.equal(c.security.rotation.adminEnabled, true, "admin rotation defaults on with a token");
  assert.equal(c.rotation.device.notifyChannel, 7);
  assert.equal(c.ice.liteBind, "0.0.0.0:3478", "lite_bind defaults when enabled");
  assert.deepEqual(sources.get("server.keepalive"), { kind: "file", file: path });
  assert.equal(sources.get("server.shutdown_grace_ms"), undefined);
});

Deno.test("env overrides the file; overrides beat env", () => {
  const path = tomlFile(`[server]\nkeepalive = 90\ndomain = "file.example"\nbind = "1.2.3.4:1"\n`);
  const env = {
    COMMUCAT_KEEPALIVE: "120",
    COMMUCAT_DOMAIN: "env.example",
    COMMUCAT_AUTO_APPROVE_DEVICES: "false",
    COMMUCAT_LEDGER: "file",
    COMMUCAT_LEDGER_TARGET: "<data_dir>/ledger.jsonl",
    COMMUCAT_UPLOADS_BASE_URL: "https://cdn.{domain}/u/",
  };
  const { config: c, sources } = loadConfigDetailed({
    path,
    env,
    overrides: { "server.bind": "127.0.0.1:0", log: { level: "debug" } },
  });
  assert.equal(c.server.keepalive, 120);
  assert.equal(c.server.domain, "env.example");
  assert.equal(c.server.autoApproveDevices, false);
  assert.equal(c.server.bind, "127.0.0.1:0");
  assert.equal(c.log.level, "debug");
  assert.equal(c.ledger.target, "./var/ledger.jsonl");
  assert.equal(c.uploads.baseUrl, "https://cdn.env.example/u");
  assert.deepEqual(sources.get("server.keepalive"), { kind: "env", name: "COMMUCAT_KEEPALIVE" });
  assert.deepEqual(sources.get("server.bind"), { kind: "override" });
});

Deno.test("an empty env value unsets an optional string key", () => {
  const path = tomlFile(`[admin]\ntoken = "0123456789abcdef0123"\n`);
  const c = load({ path, env: { COMMUCAT_ADMIN_TOKEN: "" } });
  assert.equal(c.admin.token, undefined);
});

Deno.test("bad env values: one line naming the key and the variable", () => {
  const cases: [Record<string, string>, string][] = [
    [
      { COMMUCAT_KEEPALIVE: "abc" },
      'config: server.keepalive (COMMUCAT_KEEPALIVE): expected a positive integer, got "abc"',
    ],
    [
      { COMMUCAT_KEEPALIVE: "12abc" },
      'config: server.keepalive (COMMUCAT_KEEPALIVE): expected a positive integer, got "12abc"',
    ],
    [
      { COMMUCAT_KEEPALIVE: "" },
      'config: server.keepalive (COMMUCAT_KEEPALIVE): expected a positive integer, got ""',
    ],
    [
      { COMMUCAT_KEEPALIVE: "0" },
      "config: server.keepalive (COMMUCAT_KEEPALIVE): expected a positive integer, got 0",
    ],
    [
      { COMMUCAT_AUTO_APPROVE_DEVICES: "yes" },
      "config: server.auto_approve_devices (COMMUCAT_AUTO_APPROVE_DEVICES): expected true or false, " +
      'got "yes"',
    ],
    [
      { COMMUCAT_BIND: "0.0.0.0" },
      'config: server.bind (COMMUCAT_BIND): expected host:port (missing :port), got "0.0.0.0"',
    ],
    [
      { COMMUCAT_STORAGE_BACKEND: "mysql" },
      "config: storage.backend (COMMUCAT_STORAGE_BACKEND): expected one of sqlite, postgres, " +
      'got "mysql"',
    ],
    [
      { COMMUCAT_ICE_LITE_PUBLIC_ADDRESS: "1.2.3.4:0" },
      "config: ice.lite_public_address (COMMUCAT_ICE_LITE_PUBLIC_ADDRESS): expected ip:port " +
      '(port out of range 1..65535), got "1.2.3.4:0"',
    ],
    [
      { COMMUCAT_RATE_HTTP_WINDOW_MS: "0" },
      "config: security.rate_limit.http_window_ms (COMMUCAT_RATE_HTTP_WINDOW_MS): " +
      "expected a positive integer, got 0",
    ],
    [
      { COMMUCAT_ROTATE_ADMIN_MAX_VERSIONS: "0" },
      "config: security.rotation.admin_max_versions (COMMUCAT_ROTATE_ADMIN_MAX_VERSIONS): " +
      "expected a positive integer, got 0",
    ],
    [
      { COMMUCAT_ROTATION_DEVICE_NOTIFY_CHANNEL: "4294967296" },
      "config: rotation.device.notify_channel (COMMUCAT_ROTATION_DEVICE_NOTIFY_CHANNEL): " +
      "expected an integer in 0..4294967295, got 4294967296",
    ],
    [
      { COMMUCAT_LOG_LEVEL: "warn" },
      "config: log.level (COMMUCAT_LOG_LEVEL): expected one of trace, debug, info, warning, error, " +
      'got "warn"',
    ],
  ];
  for (const [env, expected] of cases) assert.equal(errorOf(() => load({ env })), expected);
});

Deno.test("bad file values name the key (no env var)", () => {
  const cases: [string, string][] = [
    ["[limits]\nrelay_ttl = 0\n", "config: limits.relay_ttl: expected a positive integer, got 0"],
    [
      "[limits]\nrelay_ttl = 1.5\n",
      "config: limits.relay_ttl: expected a positive integer, got 1.5",
    ],
    [
      '[limits]\nrelay_ttl = "60"\n',
      'config: limits.relay_ttl: expected a positive integer, got "60"',
    ],
    [
      "[server]\nmax_auto_devices_per_user = -1\n",
      "config: server.max_auto_devices_per_user: expected a non-negative integer, got -1",
    ],
    [
      '[crypto]\nfederation_seed = "abcd"\n',
      "config: crypto.federation_seed: expected an even number of hex characters, at least 64 " +
      "(32 bytes), got <redacted>",
    ],
    [
      '[uploads]\nbase_url = "ftp://x/{domain}"\n',
      'config: uploads.base_url: expected an http:// or https:// URL, got "ftp://x/{domain}"',
    ],
    [
      '[storage]\npostgres_dsn = "mysql://root:hunter2@db/x"\n',
      "config: storage.postgres_dsn: expected a postgres:// or postgresql:// URL, got <redacted>",
    ],
    ["server = 5\n", "config: server: expected a table ([server]), got 5"],
  ];
  for (const [text, expected] of cases) {
    assert.equal(errorOf(() => load({ path: tomlFile(text) })), expected);
  }
});

Deno.test("secrets never appear in error messages", () => {
  const secret = "hunter2hunter2hunter2";
  const message = errorOf(() =>
    load({ env: { COMMUCAT_PG_DSN: `mysql://root:${secret}@db/x`, COMMUCAT_ADMIN_TOKEN: "short" } })
  );
  assert.ok(!message.includes(secret) && !message.includes("short"), message);
});

Deno.test("unknown keys in the file are rejected by name", () => {
  const path = tomlFile(`[server]\nbnid = "0.0.0.0:1"\n`);
  assert.equal(
    errorOf(() => loadConfig({ path, env: {} })),
    `config: unknown key "server.bnid" in ${path}`,
  );
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/commucat.toml`, `[sever]\nbind = "0.0.0.0:1"\n`);
  assert.equal(
    errorOf(() => loadConfig({ cwd: dir, env: {} })),
    'config: unknown key "sever" in commucat.toml',
  );
  const nested = tomlFile(`[security.rate_limit]\nhttp_brust = 1\n`);
  assert.equal(
    errorOf(() => load({ path: nested })),
    `config: unknown key "security.rate_limit.http_brust" in ${nested}`,
  );
  assert.equal(
    errorOf(() => load({ overrides: { "server.port": 1 } })),
    'config: unknown key "server.port" in overrides',
  );
});

Deno.test("config file lookup: explicit, $COMMUCAT_CONFIG, default in cwd", () => {
  assert.equal(
    errorOf(() => load({ path: `${emptyDir}/missing.toml` })),
    `config: config file "${emptyDir}/missing.toml" not found`,
  );
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_CONFIG: `${emptyDir}/nope.toml` } })),
    `config: config file "${emptyDir}/nope.toml" (COMMUCAT_CONFIG) not found`,
  );
  const path = tomlFile(`[server]\nkeepalive = 7\n`);
  assert.equal(load({ env: { COMMUCAT_CONFIG: path } }).server.keepalive, 7);
  const dir = path.slice(0, -"/commucat.toml".length);
  assert.equal(loadConfig({ cwd: dir, env: {} }).server.keepalive, 7);
  assert.equal(loadConfigDetailed({ cwd: emptyDir, env: {} }).file, undefined);
});

Deno.test("TOML syntax errors name the file and line", () => {
  const path = tomlFile(`[server]\nbind = "0.0.0.0:1"\nkeepalive = \n`);
  assert.match(errorOf(() => load({ path })), /^config: .*commucat\.toml:3:\d+: invalid TOML: /);
});

Deno.test("real TOML: '#' inside a quoted string is kept, escapes and arrays work", () => {
  const path = tomlFile(`
[crypto]
prologue = "commucat#v1 \\"quoted\\"" # a real comment
[ice.turn.main]
urls = ["turn:turn.example.org:3478", "turns:turn.example.org:5349"]
secret = "s3cr#t"
realm = "example.org"
[ice.turn.static]
urls = "stun:stun.example.org:3478, turn:turn.example.org:3478"
username = "u"
password = "p"
`);
  const c = load({ path });
  assert.equal(c.crypto.prologue, 'commucat#v1 "quoted"');
  assert.deepEqual(c.ice.turn, [
    {
      name: "main",
      urls: ["turn:turn.example.org:3478", "turns:turn.example.org:5349"],
      auth: { kind: "secret", secret: "s3cr#t" },
      realm: "example.org",
    },
    {
      name: "static",
      urls: ["stun:stun.example.org:3478", "turn:turn.example.org:3478"],
      auth: { kind: "static", username: "u", password: "p" },
    },
  ]);
});

Deno.test("TURN tables: credentials must be one kind", () => {
  assert.equal(
    errorOf(() =>
      load({ path: tomlFile(`[ice.turn.t]\nurls = "turn:x:1"\nsecret = "s"\nusername = "u"\n`) })
    ),
    "config: ice.turn.t.secret: give either secret or username+password, not both",
  );
  assert.equal(
    errorOf(() => load({ path: tomlFile(`[ice.turn.t]\nurls = "turn:x:1"\n`) })),
    "config: ice.turn.t.urls: missing credentials: give secret or username+password",
  );
  assert.equal(
    errorOf(() => load({ path: tomlFile(`[ice.turn.t]\nsecret = "s"\n`) })),
    "config: ice.turn.t.urls: is required",
  );
  assert.equal(
    errorOf(() => load({ path: tomlFile(`[ice.turn.t]\nurls = "http://x"\nsecret = "s"\n`) })),
    "config: ice.turn.t.urls[0]: expected stun:, stuns:, turn: or turns: URLs",
  );
});

Deno.test("both-or-neither pairs", () => {
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_TLS_CERT: "/etc/cert.pem" } })),
    "config: server.tls_cert (COMMUCAT_TLS_CERT): server.tls_key is missing; " +
      "set both server.tls_cert and server.tls_key, or neither",
  );
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_NOISE_PUBLIC: NOISE_PUBLIC } })),
    "config: crypto.noise_public (COMMUCAT_NOISE_PUBLIC): crypto.noise_private is missing; " +
      "set both crypto.noise_private and crypto.noise_public, or neither",
  );
  const c = load({
    env: {
      COMMUCAT_TLS_CERT: "<data_dir>/cert.pem",
      COMMUCAT_TLS_KEY: "<data_dir>/key.pem",
    },
  });
  assert.equal(c.server.tlsCert, "./var/cert.pem");
  assert.equal(c.server.tlsKey, "./var/key.pem");
});

Deno.test("crypto.pq: a policy, default prefer; upstream's pq_kem_* keys are gone with a hint", () => {
  assert.equal(load().crypto.pq, "prefer");
  assert.equal(load({ env: { COMMUCAT_PQ: "require" } }).crypto.pq, "require");
  assert.equal(load().server.pqHandshakeCpuPercent, 50);
  assert.match(
    errorOf(() => load({ env: { COMMUCAT_PQ: "always" } })),
    /^config: crypto\.pq \(COMMUCAT_PQ\): expected one of off, prefer, require/,
  );
  assert.equal(
    errorOf(() => load({ overrides: { "crypto.pq_kem_public": "00".repeat(1184) } })),
    'config: unknown key "crypto.pq_kem_public" in overrides (removed: hybrid handshakes use ' +
      "a fresh ML-KEM key per handshake; see crypto.pq)",
  );
});

Deno.test("crypto.padding: off, classes (default) or block:<bytes>; a bad value is one line naming the key", () => {
  assert.equal(load().crypto.padding, "classes");
  assert.equal(load({ env: { COMMUCAT_PADDING: "block:512" } }).crypto.padding, "block:512");
  assert.equal(load({ overrides: { "crypto.padding": "off" } }).crypto.padding, "off");
  for (const bad of ["on", "block:8", "block:70000", "block:"]) {
    const message = errorOf(() => load({ env: { COMMUCAT_PADDING: bad } }));
    assert.match(
      message,
      /^config: crypto\.padding \(COMMUCAT_PADDING\): expected "off", "classes" or "block:<bytes>" \(bytes 16\.\.65519\)/,
    );
    assert.equal(message.split("\n").length, 1, message);
  }
});

Deno.test("conditional requirements: postgres DSN, redis URL, ledger target", () => {
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_STORAGE_BACKEND: "postgres" } })),
    'config: storage.postgres_dsn: required when storage.backend = "postgres"',
  );
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_PRESENCE_BACKEND: "redis" } })),
    'config: storage.redis_url: required when presence.backend = "redis"',
  );
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_LEDGER: "file" } })),
    'config: ledger.target: required when ledger.mode = "file"',
  );
  const c = load({
    env: { COMMUCAT_PRESENCE_BACKEND: "redis", COMMUCAT_REDIS_URL: "redis://cache:6379/0" },
  });
  assert.equal(c.storage.redisUrl, "redis://cache:6379/0");
});

Deno.test("Noise key pair: consistent pair accepted, inconsistent rejected", () => {
  const ok = load({
    env: {
      COMMUCAT_NOISE_PRIVATE: NOISE_PRIVATE,
      COMMUCAT_NOISE_PUBLIC: NOISE_PUBLIC.toUpperCase(),
    },
  });
  assert.equal(ok.crypto.noisePrivate, NOISE_PRIVATE);
  assert.equal(ok.crypto.noisePublic, NOISE_PUBLIC, "hex is normalised to lower case");
  const wrongPublic = NOISE_PUBLIC.slice(0, -2) + "09";
  const message = errorOf(() =>
    load({
      path: tomlFile(
        `[crypto]\nnoise_private = "${NOISE_PRIVATE}"\nnoise_public = "${wrongPublic}"\n`,
      ),
    })
  );
  assert.equal(
    message,
    "config: crypto.noise_public: is not the X25519 public key of crypto.noise_private",
  );
  assert.ok(!message.includes(NOISE_PRIVATE));
  assert.equal(
    errorOf(() =>
      load({ env: { COMMUCAT_NOISE_PRIVATE: "xyz", COMMUCAT_NOISE_PUBLIC: NOISE_PUBLIC } })
    ),
    "config: crypto.noise_private (COMMUCAT_NOISE_PRIVATE): expected 64 hex characters (32 bytes), " +
      "got <redacted>",
  );
});

Deno.test("federation.peers: upstream string form and TOML tables both normalise", () => {
  const fromEnv = load({
    env: {
      COMMUCAT_FEDERATION_PEERS:
        `Peer.Example,https://peer.example/federation,${PEER_KEY};b.example,http://b.example,${PEER_KEY.toUpperCase()};`,
    },
  });
  const expected = [
    { domain: "peer.example", endpoint: "https://peer.example/federation", publicKey: PEER_KEY },
    { domain: "b.example", endpoint: "http://b.example", publicKey: PEER_KEY },
  ];
  assert.deepEqual(fromEnv.federation.peers, expected);
  const fromTables = load({
    path: tomlFile(`
[[federation.peers]]
domain = "peer.example"
endpoint = "https://peer.example/federation"
public_key = "${PEER_KEY}"

[[federation.peers]]
domain = "b.example"
endpoint = "http://b.example"
public_key = "${PEER_KEY}"
`),
  });
  assert.deepEqual(fromTables.federation.peers, expected);
  const fromString = load({
    path: tomlFile(
      `[federation]\npeers = "peer.example,https://peer.example/federation,${PEER_KEY}"\n`,
    ),
  });
  assert.deepEqual(fromString.federation.peers, [expected[0]]);
  assert.deepEqual(load({ env: { COMMUCAT_FEDERATION_PEERS: "" } }).federation.peers, []);
});

Deno.test("federation.peers: malformed entries are named", () => {
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_FEDERATION_PEERS: "a.example,https://a.example" } })),
    "config: federation.peers (COMMUCAT_FEDERATION_PEERS): entry 1 has 2 comma-separated part(s); " +
      'expected "domain,endpoint,pubkeyhex32" entries separated by ";"',
  );
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_FEDERATION_PEERS: "a.example,https://a.example,abcd" } })),
    "config: federation.peers[0].public_key (COMMUCAT_FEDERATION_PEERS): " +
      "expected 64 hex characters (32 bytes)",
  );
  const peersFile = tomlFile(
    `[[federation.peers]]\ndomain = "a.example"\nendpoint = "https://a.example"\npublic_key = "${PEER_KEY}"\nkey = 1\n`,
  );
  assert.equal(
    errorOf(() => load({ path: peersFile })),
    `config: unknown key "federation.peers[0].key" in ${peersFile}`,
  );
  assert.equal(
    errorOf(() =>
      load({
        env: {
          COMMUCAT_FEDERATION_PEERS:
            `a.example,https://a.example,${PEER_KEY};A.EXAMPLE,https://b,${PEER_KEY}`,
        },
      })
    ),
    'config: federation.peers[1] (COMMUCAT_FEDERATION_PEERS): duplicate peer domain "a.example"',
  );
});

Deno.test("the sample commucat.toml loads and equals the defaults", () => {
  const path = new URL("../../commucat.toml", import.meta.url).pathname;
  const { config, file } = loadConfigDetailed({ path, env: {} });
  assert.equal(file, path);
  assert.deepEqual(config, load());
});

Deno.test("transport.shadowsocks: off by default; bind needs a password; bad values name the key", () => {
  const off = load();
  assert.equal(off.transport.shadowsocks.bind, undefined);
  assert.equal(off.transport.shadowsocks.method, "chacha20-ietf-poly1305");
  assert.equal(
    errorOf(() => load({ overrides: { "transport.shadowsocks.bind": "127.0.0.1:8388" } })),
    "config: transport.shadowsocks.password: required when transport.shadowsocks.bind is set",
  );
  assert.match(
    errorOf(() =>
      load({
        env: {
          COMMUCAT_SHADOWSOCKS_BIND: "127.0.0.1:8388",
          COMMUCAT_SHADOWSOCKS_METHOD: "rc4-md5",
        },
      })
    ),
    /^config: transport\.shadowsocks\.method \(COMMUCAT_SHADOWSOCKS_METHOD\): expected one of /,
  );
  assert.equal(
    errorOf(() => load({ overrides: { "transport.shadowsocks.password": "short" } })),
    "config: transport.shadowsocks.password: expected a string of at least 8 characters, " +
      "got <redacted>",
  );
  const on = load({
    path: tomlFile(
      `[transport.shadowsocks]\nbind = "127.0.0.1:8388"\nmethod = "aes-256-gcm"\n` +
        `password = "a-long-password"\n`,
    ),
  });
  assert.deepEqual(on.transport.shadowsocks, {
    bind: "127.0.0.1:8388",
    method: "aes-256-gcm",
    password: "a-long-password",
  });
});

Deno.test("in-session rekey triggers: defaults, file values, one-line errors naming the key", () => {
  const defaults = load();
  assert.equal(defaults.server.rekeyAfterMessages, 1_000_000);
  assert.equal(defaults.server.rekeyAfterMinutes, 60);
  const c = load({
    path: tomlFile("[server]\nrekey_after_messages = 500\nrekey_after_minutes = 0\n"),
  });
  assert.equal(c.server.rekeyAfterMessages, 500);
  assert.equal(c.server.rekeyAfterMinutes, 0);
  assert.match(
    errorOf(() => load({ env: { COMMUCAT_REKEY_AFTER_MINUTES: "-1" } })),
    /^config: server\.rekey_after_minutes \(COMMUCAT_REKEY_AFTER_MINUTES\): /,
  );
  assert.match(
    errorOf(() => load({ path: tomlFile("[server]\nrekey_after_messages = 1.5\n") })),
    /^config: server\.rekey_after_messages: /,
  );
});

Deno.test("REALITY keys are refused by name; transport.websocket_path is a safe extra path", () => {
  assert.equal(
    errorOf(() => load({ env: { COMMUCAT_REALITY_CERT: "/etc/reality.pem" } })),
    "config: transport.reality_cert (COMMUCAT_REALITY_CERT): REALITY is not supported " +
      "(no peer implementation is available); remove the key",
  );
  assert.match(
    errorOf(() => load({ overrides: { "transport.reality_fingerprint": "00".repeat(32) } })),
    /^config: transport\.reality_fingerprint: REALITY is not supported/,
  );
  assert.equal(
    load({ env: { COMMUCAT_WEBSOCKET_PATH: "/c7f3a9/ws" } }).transport.websocketPath,
    "/c7f3a9/ws",
  );
  assert.match(
    errorOf(() => load({ overrides: { "transport.websocket_path": "/api/x" } })),
    /^config: transport\.websocket_path: must not be \(or be under\) a path the server already serves/,
  );
  assert.match(
    errorOf(() => load({ overrides: { "transport.websocket_path": "ws?x=1" } })),
    /^config: transport\.websocket_path: expected an absolute path/,
  );
});

Deno.test("transport.pt: off by default; state dir in the data dir; bad values name the key", () => {
  const off = load();
  assert.equal(off.transport.pt.bind, undefined);
  assert.equal(off.transport.pt.binary, "obfs4proxy");
  assert.equal(off.transport.pt.transport, "obfs4");
  const on = load({
    path: tomlFile(
      `[server]\ndata_dir = "/srv/cc"\n[transport.pt]\nbind = "0.0.0.0:9443"\n` +
        `binary = "/usr/bin/obfs4proxy"\noptions = "iat-mode=1"\n`,
    ),
  });
  assert.deepEqual(on.transport.pt, {
    bind: "0.0.0.0:9443",
    binary: "/usr/bin/obfs4proxy",
    transport: "obfs4",
    stateDir: "/srv/cc/pt",
    options: "iat-mode=1",
  });
  assert.match(
    errorOf(() => load({ env: { COMMUCAT_PT_BIND: "nowhere" } })),
    /^config: transport\.pt\.bind \(COMMUCAT_PT_BIND\): expected host:port/,
  );
  assert.equal(
    errorOf(() => load({ overrides: { "transport.pt.transport": "obfs4 meek" } })),
    'config: transport.pt.transport: expected a transport name (letters, digits, _), e.g. obfs4, got "obfs4 meek"',
  );
  assert.equal(
    errorOf(() => load({ overrides: { "transport.pt.options": "iat-mode" } })),
    'config: transport.pt.options: expected k=v pairs separated by ; (e.g. iat-mode=1), got "iat-mode"',
  );
});
