import assert from "node:assert/strict";
import { loadConfigDetailed } from "./load.ts";
import {
  errorOf,
  load,
  NOISE_PRIVATE,
  NOISE_PUBLIC,
  PEER_KEY,
  tomlFile,
} from "./_load_test_utils.ts";

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
