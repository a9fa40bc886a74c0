import assert from "node:assert/strict";
import { loadConfigDetailed } from "./load.ts";
import { REDACTED, summarizeConfig } from "./summary.ts";
import { CONFIG_KEYS } from "./tree.ts";

const SECRETS = {
  COMMUCAT_ADMIN_TOKEN: "admin-token-0123456789-secret",
  COMMUCAT_PG_DSN: "postgres://commucat:pg-password-secret@db/commucat",
  COMMUCAT_STORAGE_BACKEND: "postgres",
  COMMUCAT_REDIS_URL: "redis://:redis-password-secret@cache:6379",
  COMMUCAT_FEDERATION_SEED: "5e".repeat(32),
  COMMUCAT_NOISE_PRIVATE: "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f",
  COMMUCAT_NOISE_PUBLIC: "0d67bf305a47b22d47e102fdd00a3b9ae7c1948a480948d6b29604a613654f08",
  COMMUCAT_SHADOWSOCKS_BIND: "127.0.0.1:8388",
  COMMUCAT_SHADOWSOCKS_PASSWORD: "shadowsocks-password-secret",
};

Deno.test("summary: one line per key, secrets redacted, sources shown", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/c.toml`;
  Deno.writeTextFileSync(
    path,
    `[ice.turn.main]\nurls = "turn:t:1"\nsecret = "turn-secret-value"\n` +
      `[ice.turn.fixed]\nurls = "turn:t:2"\nusername = "u"\npassword = "turn-password-value"\n`,
  );
  const lines = summarizeConfig(loadConfigDetailed({ path, env: SECRETS }));
  const text = lines.join("\n");
  for (
    const secret of [
      "admin-token-0123456789-secret",
      "pg-password-secret",
      "redis-password-secret",
      SECRETS.COMMUCAT_FEDERATION_SEED,
      SECRETS.COMMUCAT_NOISE_PRIVATE,
      "turn-secret-value",
      "turn-password-value",
      "shadowsocks-password-secret",
    ]
  ) {
    assert.ok(!text.includes(secret), `leaked ${secret}`);
  }
  assert.ok(text.includes("0d67bf305a47b22d"), "public keys are shown");
  const line = (key: string) => lines.find((l) => l.startsWith(`${key} = `)) ?? "";
  assert.match(line("admin.token"), new RegExp(`= ${REDACTED} +\\(env COMMUCAT_ADMIN_TOKEN\\)$`));
  assert.match(line("ice.turn.main.secret"), new RegExp(`= ${REDACTED} +\\(${path}\\)$`));
  assert.match(line("ice.turn.fixed.username"), /= "u" /);
  assert.match(line("server.bind"), /= "0\.0\.0\.0:8443" +\(default\)$/);
  assert.match(line("server.tls_cert"), /= \(unset\)/);
  const plainKeys = CONFIG_KEYS.filter((d) => !d.key.includes("<name>")).length;
  assert.equal(lines.length, plainKeys + 2 + 3);
});
