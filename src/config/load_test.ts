import assert from "node:assert/strict";
import { loadConfig, loadConfigDetailed } from "./load.ts";
import { emptyDir, errorOf, load, tomlFile } from "./_load_test_utils.ts";

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
