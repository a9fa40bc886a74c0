import assert from "node:assert/strict";
import { certificateCovers } from "./cert_info.ts";
import { ensureSelfSignedCertificate, readCertificateInfo } from "./files.ts";
import { generateSelfSignedCertificate, TlsCertificateError } from "./selfsigned.ts";
import { nameFor, run, toolAvailable } from "./test_helpers.ts";

const HAS_OPENSSL = toolAvailable("openssl", ["version"]);
const DAY_MS = 86_400_000;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "commucat-tls-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("files: generates, then reuses the same certificate", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureSelfSignedCertificate(dir, { domain: "chat.example" });
    assert.equal(first.generated, true);
    assert.equal(first.certPath, `${dir}/tls/cert.pem`);
    assert.equal(first.keyPath, `${dir}/tls/key.pem`);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(first.keyPath)).mode! & 0o777, 0o600);
    }
    const info = await readCertificateInfo(await Deno.readTextFile(first.certPath));
    assert.deepEqual(info.subjectAltNames, [
      "DNS:localhost",
      "DNS:chat.example",
      "IP:127.0.0.1",
      "IP:::1",
    ]);
    assert.equal(info.subjectCommonName, "chat.example");
    assert.equal(info.fingerprintSha256, first.fingerprintSha256);
    assert.equal(info.notAfter.getTime(), first.notAfter.getTime());
    assert.ok(Math.abs(first.notAfter.getTime() - (Date.now() + 825 * DAY_MS)) < 60_000);

    const second = await ensureSelfSignedCertificate(dir, { domain: "chat.example" });
    assert.equal(second.generated, false);
    assert.equal(second.fingerprintSha256, first.fingerprintSha256);
    assert.equal(second.notAfter.getTime(), first.notAfter.getTime());
    // Only the pair is left behind: no temp files.
    const names = [];
    for await (const entry of Deno.readDir(`${dir}/tls`)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["cert.pem", "key.pem"]);
  });
});

Deno.test("files: regenerates when the domain changes", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureSelfSignedCertificate(dir, { domain: "a.example" });
    const second = await ensureSelfSignedCertificate(dir, { domain: "b.example" });
    assert.equal(second.generated, true);
    assert.notEqual(second.fingerprintSha256, first.fingerprintSha256);
    const info = await readCertificateInfo(await Deno.readTextFile(second.certPath));
    assert.ok(certificateCovers(info, "b.example"));
    assert.ok(!certificateCovers(info, "a.example"));
    // "localhost" is always covered, so switching to it reuses.
    const third = await ensureSelfSignedCertificate(dir, { domain: "localhost" });
    assert.equal(third.generated, false);
  });
});

Deno.test("files: regenerates when expiring within 30 days", async () => {
  await withTempDir(async (dir) => {
    const longAgo = new Date(Date.now() - 800 * DAY_MS); // expires in 25 days
    const old = await ensureSelfSignedCertificate(dir, { domain: "localhost", now: longAgo });
    assert.ok(old.notAfter.getTime() - Date.now() < 30 * DAY_MS);
    const fresh = await ensureSelfSignedCertificate(dir, { domain: "localhost" });
    assert.equal(fresh.generated, true);
    assert.ok(fresh.notAfter > old.notAfter);
    // A shorter renewal window keeps a certificate that still has 25 days left.
    await ensureSelfSignedCertificate(dir, { domain: "localhost", now: longAgo });
    const kept = await ensureSelfSignedCertificate(dir, {
      domain: "localhost",
      renewWithinDays: 10,
    });
    assert.equal(kept.generated, false);
  });
});

Deno.test("files: regenerates when the key does not match or the certificate is garbage", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureSelfSignedCertificate(dir, { domain: "localhost" });
    const other = await generateSelfSignedCertificate({
      commonName: "x",
      dnsNames: ["localhost"],
      ipAddresses: [],
    });
    await Deno.writeTextFile(first.keyPath, other.keyPem);
    const second = await ensureSelfSignedCertificate(dir, { domain: "localhost" });
    assert.equal(second.generated, true);

    await Deno.writeTextFile(second.certPath, "not a certificate");
    const third = await ensureSelfSignedCertificate(dir, { domain: "localhost" });
    assert.equal(third.generated, true);

    await Deno.remove(third.keyPath);
    const fourth = await ensureSelfSignedCertificate(dir, { domain: "localhost" });
    assert.equal(fourth.generated, true);
    assert.equal(
      (await ensureSelfSignedCertificate(dir, { domain: "localhost" })).generated,
      false,
    );
  });
});

Deno.test("files: an IP domain goes into iPAddress; a bad domain is a TlsCertificateError", async () => {
  await withTempDir(async (dir) => {
    const result = await ensureSelfSignedCertificate(dir, { domain: "192.0.2.10" });
    const info = await readCertificateInfo(await Deno.readTextFile(result.certPath));
    assert.deepEqual(info.ipAddresses, ["127.0.0.1", "::1", "192.0.2.10"]);
    assert.deepEqual(info.dnsNames, ["localhost"]);
    assert.ok(certificateCovers(info, "192.0.2.10"));
    assert.equal((await ensureSelfSignedCertificate(dir, { domain: "::1" })).generated, false);
    await assert.rejects(
      ensureSelfSignedCertificate(dir, { domain: "not a domain" }),
      TlsCertificateError,
    );
  });
});

Deno.test("cert info: wildcard matching covers exactly one label", async () => {
  const cert = await generateSelfSignedCertificate({
    commonName: "example.com",
    dnsNames: ["*.example.com"],
    ipAddresses: ["2001:db8::1"],
  });
  const info = await readCertificateInfo(cert.certPem);
  assert.ok(certificateCovers(info, "chat.example.com"));
  assert.ok(certificateCovers(info, "CHAT.Example.com."));
  assert.ok(!certificateCovers(info, "example.com"));
  assert.ok(!certificateCovers(info, "a.b.example.com"));
  assert.ok(certificateCovers(info, "2001:DB8:0::1"));
  assert.ok(!certificateCovers(info, "2001:db8::2"));
});

Deno.test({
  name: nameFor(
    "cert info: reads a user-provided openssl RSA certificate; ensure replaces it",
    "openssl",
    HAS_OPENSSL,
  ),
  ignore: !HAS_OPENSSL,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/tls`);
      const certPath = `${dir}/tls/cert.pem`;
      // 20000 days reaches past 2049, so notAfter is a GeneralizedTime.
      const req = await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${dir}/tls/key.pem`,
        "-out",
        certPath,
        "-days",
        "20000",
        "-subj",
        "/O=Someone/CN=user.example",
        "-addext",
        "subjectAltName=DNS:user.example,IP:10.0.0.1,IP:fe80::1,email:a@b.example",
      ]);
      assert.equal(req.code, 0, req.stderr);
      const info = await readCertificateInfo(await Deno.readTextFile(certPath));
      assert.equal(info.subjectCommonName, "user.example");
      assert.deepEqual(info.subjectAltNames, ["DNS:user.example", "IP:10.0.0.1", "IP:fe80::1"]);
      const dates = await run("openssl", [
        "x509",
        "-in",
        certPath,
        "-noout",
        "-startdate",
        "-enddate",
        "-fingerprint",
        "-sha256",
      ]);
      const field = (name: string) => dates.stdout.match(new RegExp(`${name}=(.*)`))![1];
      assert.equal(info.notBefore.getTime(), new Date(field("notBefore")).getTime());
      assert.equal(info.notAfter.getTime(), new Date(field("notAfter")).getTime());
      assert.ok(info.notAfter.getUTCFullYear() > 2050);
      assert.equal(
        info.fingerprintSha256,
        field("sha256 Fingerprint").replaceAll(":", "").toLowerCase(),
      );
      // It covers the domain, but the RSA key is not one of ours: replaced.
      const ensured = await ensureSelfSignedCertificate(dir, { domain: "user.example" });
      assert.equal(ensured.generated, true);
    });
  },
});
