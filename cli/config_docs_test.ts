import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { checkConfig, registerConfigCommand } from "./config_docs.ts";

Deno.test("config check: ok report with secrets redacted", () => {
  const dir = Deno.makeTempDirSync();
  const token = "a-very-secret-admin-token";
  const result = checkConfig({
    cwd: dir,
    env: { COMMUCAT_ADMIN_TOKEN: token, COMMUCAT_REDIS_URL: "redis://:pw-secret@h:1" },
  });
  assert.equal(result.code, 0);
  assert.ok(result.output.startsWith("config ok\nfile: (none"));
  assert.ok(!result.output.includes(token) && !result.output.includes("pw-secret"));
  assert.match(result.output, /admin\.token = <redacted> +\(env COMMUCAT_ADMIN_TOKEN\)/);
});

Deno.test("config check: one-line error and exit code 1", () => {
  const result = checkConfig({ cwd: Deno.makeTempDirSync(), env: { COMMUCAT_KEEPALIVE: "abc" } });
  assert.equal(result.code, 1);
  assert.equal(
    result.output,
    "commucat: config check: " +
      'config: server.keepalive (COMMUCAT_KEEPALIVE): expected a positive integer, got "abc"\n',
  );
});

Deno.test("registerConfigCommand adds config check/reference/sample", () => {
  const program = new Command().name("commucat");
  registerConfigCommand(program);
  const config = program.commands.find((c) => c.name() === "config");
  assert.ok(config);
  assert.deepEqual(config.commands.map((c) => c.name()), ["check", "reference", "sample"]);
  const check = config.commands[0];
  assert.ok(check.options.some((o) => o.long === "--config"));
});

Deno.test("config check: a missing TLS certificate or key fails, naming the key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-config-check-" });
  try {
    const cert = `${dir}/cert.pem`;
    const key = `${dir}/key.pem`;
    const env = { COMMUCAT_TLS_CERT: cert, COMMUCAT_TLS_KEY: key };
    const missingCert = checkConfig({ cwd: dir, env });
    assert.equal(missingCert.code, 1);
    assert.equal(
      missingCert.output,
      `commucat: config check: config: server.tls_cert (COMMUCAT_TLS_CERT): ${cert} does not exist\n`,
    );
    await Deno.writeTextFile(cert, "-----BEGIN CERTIFICATE-----\n");
    const missingKey = checkConfig({ cwd: dir, env });
    assert.equal(missingKey.code, 1);
    assert.match(
      missingKey.output,
      /: config: server\.tls_key \(COMMUCAT_TLS_KEY\): .* does not exist\n$/,
    );
    // From a file, the key is named without an environment variable; a directory is not a file.
    await Deno.writeTextFile(
      `${dir}/commucat.toml`,
      `[server]\ntls_cert = "${cert}"\ntls_key = "${dir}"\n`,
    );
    const directory = checkConfig({ cwd: dir, env: {} });
    assert.equal(directory.code, 1);
    assert.match(directory.output, /: config: server\.tls_key: .* is not a file\n$/);
    await Deno.writeTextFile(key, "-----BEGIN PRIVATE KEY-----\n");
    const ok = checkConfig({ cwd: dir, env });
    assert.equal(ok.code, 0, ok.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
