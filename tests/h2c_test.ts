/**
 * The optional plaintext listener (`server.h2c_bind`) for use behind a TLS-
 * terminating proxy: HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
 */
import assert from "node:assert/strict";
import { startTestServer } from "./helpers/inprocess.ts";

const curl = await new Deno.Command("sh", { args: ["-c", "command -v curl"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test("h2c listener answers HTTP/1.1", async () => {
  const srv = await startTestServer({ h2c: { hostname: "127.0.0.1", port: 0 } });
  try {
    const addr = srv.server.h2cAddr!;
    const response = await fetch(`http://127.0.0.1:${addr.port}/healthz`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).status, "healthy");
  } finally {
    await srv.stop();
  }
});

Deno.test({
  name: `h2c listener speaks HTTP/2 with prior knowledge (curl)${
    curl ? "" : " (skipped: curl missing)"
  }`,
  ignore: !curl,
  async fn() {
    const srv = await startTestServer({ h2c: { hostname: "127.0.0.1", port: 0 } });
    try {
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--http2-prior-knowledge",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{http_code}",
          `http://127.0.0.1:${srv.server.h2cAddr!.port}/healthz`,
        ],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(out.stdout), "2 200");
    } finally {
      await srv.stop();
    }
  },
});
