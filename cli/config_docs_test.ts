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
