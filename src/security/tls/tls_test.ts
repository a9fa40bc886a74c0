/**
 * The real thing: a Deno HTTPS server with a generated certificate, reached
 * by Deno's own client (rustls/webpki, the strictest of our clients) and by
 * curl over HTTP/2.
 */
import assert from "node:assert/strict";
import { generateSelfSignedCertificate } from "./selfsigned.ts";
import { nameFor, run, toolAvailable } from "./test_helpers.ts";

const HAS_CURL = toolAvailable("curl");

async function withServer(
  fn: (port: number, certPem: string) => Promise<void>,
): Promise<void> {
  const { certPem, keyPem } = await generateSelfSignedCertificate({
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
  });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", cert: certPem, key: keyPem, onListen() {} },
    () => new Response("hi"),
  );
  try {
    await fn(server.addr.port, certPem);
  } finally {
    await server.shutdown();
  }
}

Deno.test("tls: Deno's client trusts the certificate via caCerts (localhost and 127.0.0.1)", async () => {
  await withServer(async (port, certPem) => {
    const client = Deno.createHttpClient({ caCerts: [certPem] });
    try {
      for (const host of ["localhost", "127.0.0.1"]) {
        const response = await fetch(`https://${host}:${port}/`, { client });
        assert.equal(response.status, 200, host);
        assert.equal(await response.text(), "hi", host);
      }
    } finally {
      client.close();
    }
  });
});

Deno.test("tls: a client that does not trust the certificate is refused", async () => {
  await withServer(async (port) => {
    const client = Deno.createHttpClient({});
    try {
      await assert.rejects(fetch(`https://localhost:${port}/`, { client }), (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(String(error.cause), /UnknownIssuer/);
        return true;
      });
    } finally {
      client.close();
    }
  });
});

Deno.test({
  name: nameFor("tls: curl --cacert over HTTP/2 gets the body", "curl", HAS_CURL),
  ignore: !HAS_CURL,
  async fn() {
    await withServer(async (port, certPem) => {
      const dir = await Deno.makeTempDir({ prefix: "commucat-tls-" });
      try {
        await Deno.writeTextFile(`${dir}/cert.pem`, certPem);
        for (const host of ["localhost", "127.0.0.1"]) {
          const curl = await run("curl", [
            "--noproxy",
            "*",
            "--cacert",
            `${dir}/cert.pem`,
            "--http2",
            "-sS",
            `https://${host}:${port}/`,
            "-w",
            "|%{http_version}",
          ]);
          assert.equal(curl.code, 0, curl.stderr);
          assert.equal(curl.stdout, "hi|2", host);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
