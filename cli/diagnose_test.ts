import assert from "node:assert/strict";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import { captureIo } from "./_test_io.ts";
import { diagnose, printDiagnosis } from "./diagnose.ts";

Deno.test("diagnose fails on a bare data dir and passes once the server has run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-diagnose-" });
  try {
    const configPath = `${dir}/commucat.toml`;
    await Deno.writeTextFile(configPath, `[server]\ndata_dir = "${dir}/var"\n`);
    const before = await diagnose(configPath);
    const failed = before.filter((c) => !c.ok).map((c) => c.name);
    assert.deepEqual(failed, ["device CA key", "noise static key", "storage", "tls certificate"]);
    const out = captureIo();
    assert.equal(printDiagnosis(before, out), 1);
    assert.match(out.out, /4 check\(s\) failed/);

    const srv = await startTestServer({
      dataDir: `${dir}/var`,
      sqlitePath: `${dir}/var/commucat.db`,
    });
    await srv.stop();
    const after = await diagnose(configPath);
    assert.deepEqual(after.filter((c) => !c.ok), [], JSON.stringify(after));
    assert.equal(printDiagnosis(after, captureIo()), 0);
    assert.equal(
      after.find((c) => c.name === "storage")?.detail,
      "sqlite reachable, integrity_check ok, migrations current",
    );

    const broken = `${dir}/broken.toml`;
    await Deno.writeTextFile(broken, `[server]\nno_such_key = 1\n`);
    const bad = await diagnose(broken);
    assert.equal(bad.length, 1);
    assert.equal(bad[0].ok, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("diagnose looks up the pluggable transport's binary without running it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-diagnose-pt-" });
  try {
    const fake = `${dir}/fake-pt`;
    await Deno.writeTextFile(fake, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const check = async (binary: string) => {
      const configPath = `${dir}/commucat.toml`;
      await Deno.writeTextFile(
        configPath,
        `[server]\ndata_dir = "${dir}/var"\n[transport.pt]\nbind = "127.0.0.1:9443"\n` +
          `binary = "${binary}"\n`,
      );
      return (await diagnose(configPath)).find((c) => c.name === "pluggable transport")!;
    };
    const found = await check(fake);
    assert.equal(found.ok, true);
    assert.match(found.detail, new RegExp(`^obfs4 via ${fake} \\(serve needs --allow-run=`));
    const missing = await check(`${dir}/no-such-pt`);
    assert.equal(missing.ok, false);
    assert.match(missing.detail, /^transport\.pt\.binary: .*no-such-pt not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
