import assert from "node:assert/strict";
import { buildWebClient, CONTENT_SECURITY_POLICY, createWebClient } from "./mod.ts";
import { startTestServer } from "../../tests/helpers/inprocess.ts";

const dist = new URL(`file://${await Deno.makeTempDir({ prefix: "commucat-web-dist-" })}/`);
await buildWebClient(dist);
const web = await createWebClient({ dist });
const get = (path: string, headers: Record<string, string> = {}) =>
  web.handle(new Request(`https://localhost${path}`, { headers }));

Deno.test("web: the page has a strict CSP, no inline script, and SRI on its script and style", async () => {
  const page = get("/app/");
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
  assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("cache-control"), "no-cache");
  const html = await page.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
  assert.doesNotMatch(html, /\sstyle=|<style/, "no inline style");
  const script = /src="main\.js\?v=([0-9a-f]+)" integrity="(sha384-[^"]+)"/.exec(html);
  assert.ok(script, "versioned script with integrity");
  const body = new Uint8Array(await get(`/app/main.js?v=${script[1]}`).arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-384", body));
  assert.equal(script[2], `sha384-${btoa(String.fromCharCode(...digest))}`);
  assert.match(html, /href="app\.css\?v=[0-9a-f]+" integrity="sha384-/);
});

Deno.test("web: versioned assets are immutable, others revalidate with an ETag", async () => {
  const plain = get("/app/worker.js");
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("content-type"), "text/javascript");
  assert.equal(plain.headers.get("cache-control"), "no-cache");
  const etag = plain.headers.get("etag")!;
  await plain.body?.cancel();
  const again = get("/app/worker.js", { "if-none-match": etag });
  assert.equal(again.status, 304);
  const versioned = get(`/app/worker.js?v=${etag.slice(1, -1)}`);
  assert.equal(versioned.headers.get("cache-control"), "public, max-age=31536000, immutable");
  await versioned.body?.cancel();
});

Deno.test("web: /app redirects, unknown files are 404, other methods 405 (problem+json)", async () => {
  const redirect = get("/app");
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get("location"), "/app/");
  const missing = get("/app/../deno.json");
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("content-type"), "application/problem+json");
  await missing.body?.cancel();
  const post = web.handle(new Request("https://localhost/app/", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("web: an unbuilt client answers 503 saying how to build it", async () => {
  const empty = new URL(`file://${await Deno.makeTempDir({ prefix: "commucat-web-none-" })}/`);
  const unbuilt = await createWebClient({ dist: empty });
  assert.match(unbuilt.missing ?? "", /deno task web:build/);
  const response = unbuilt.handle(new Request("https://localhost/app/"));
  assert.equal(response.status, 503);
  assert.match(await response.text(), /web:build/);
});

Deno.test("web: web.enabled = false leaves /app unserved and the server working", async () => {
  const srv = await startTestServer({ webClient: false });
  try {
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    const app = await fetch(`${srv.url}/app/`, { client });
    assert.equal(app.status, 404);
    await app.body?.cancel();
    const health = await fetch(`${srv.url}/healthz`, { client });
    assert.equal(health.status, 200);
    await health.body?.cancel();
    client.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("web: the bundle carries no node:crypto backend and stays under 300 KiB gzip", async () => {
  let gzipped = 0;
  for (const name of ["main.js", "worker.js"]) {
    const code = await Deno.readTextFile(new URL(name, dist));
    assert.doesNotMatch(code, /from\s*"node:|require\("node:|createCipheriv|diffieHellman/);
    const stream = new Blob([code]).stream().pipeThrough(new CompressionStream("gzip"));
    gzipped += (await new Response(stream).arrayBuffer()).byteLength;
  }
  assert.ok(gzipped < 300 * 1024, `bundle is ${gzipped} bytes gzip`);
});

Deno.test("web: every input of the page has a label, every section a name", async () => {
  const html = await get("/app/").text();
  const inputs = [...html.matchAll(/<input\s[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(inputs.length >= 5);
  for (const id of inputs) assert.match(html, new RegExp(`<label for="${id}">`), `label of #${id}`);
  for (const section of html.matchAll(/<section\s[^>]*>/g)) {
    assert.match(section[0], /aria-label(ledby)?="/, section[0]);
  }
});
