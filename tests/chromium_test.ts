/**
 * Chromium (a real browser peer) accepts the server's generated self-signed
 * certificate once it is trusted, and refuses it otherwise.
 */
import assert from "node:assert/strict";
import { startTestServer } from "./helpers/inprocess.ts";

async function have(binary: string): Promise<boolean> {
  return await new Deno.Command("sh", { args: ["-c", `command -v ${binary}`], stdout: "null" })
    .output().then((o) => o.success, () => false);
}

const available = (await have("chromium")) && (await have("certutil"));

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "null" })
    .output();
  return { ok: out.success, stdout: new TextDecoder().decode(out.stdout) };
}

/** Loads `url` in headless Chromium with a fresh profile; optionally trusting `certPem`. */
async function dumpDom(url: string, certPem: string | null): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "commucat-chromium-" });
  try {
    const db = `sql:${home}/.pki/nssdb`;
    await Deno.mkdir(`${home}/.pki/nssdb`, { recursive: true });
    assert.ok((await run("certutil", ["-d", db, "-N", "--empty-password"])).ok);
    if (certPem) {
      await Deno.writeTextFile(`${home}/cert.pem`, certPem);
      assert.ok(
        (await run("certutil", [
          "-d",
          db,
          "-A",
          "-t",
          "P,,",
          "-n",
          "commucat",
          "-i",
          `${home}/cert.pem`,
        ])).ok,
      );
    }
    const result = await run("timeout", [
      "60",
      "chromium",
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${home}/profile`,
      "--dump-dom",
      url,
    ], { HOME: home });
    return result.stdout;
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: `chromium accepts the self-signed certificate when trusted, not otherwise${
    available ? "" : " (skipped: chromium or certutil missing)"
  }`,
  ignore: !available,
  async fn() {
    const srv = await startTestServer();
    try {
      const trusted = await dumpDom(`${srv.url}/healthz`, srv.certificatePem);
      assert.match(trusted, /"status":"healthy"/);
      const untrusted = await dumpDom(`${srv.url}/healthz`, null);
      assert.doesNotMatch(untrusted, /"status":"healthy"/);
    } finally {
      await srv.stop();
    }
  },
});
