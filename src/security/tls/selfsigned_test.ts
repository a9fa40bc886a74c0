import assert from "node:assert/strict";
import { toHex } from "../../crypto/bytes.ts";
import { Tag } from "./der.ts";
import {
  children,
  type DerElement,
  readBitStringBytes,
  readOid,
  readSingle,
  readTime,
  readUnsignedInteger,
} from "./der_reader.ts";
import { IpAddressError } from "./ip.ts";
import { decodePem, encodePem } from "./pem.ts";
import {
  generateSelfSignedCertificate,
  Oid,
  p1363ToDerSignature,
  TlsCertificateError,
} from "./selfsigned.ts";
import { nameFor, run, toolAvailable } from "./test_helpers.ts";

const HAS_OPENSSL = toolAvailable("openssl", ["version"]);
const NOW = new Date("2026-03-04T05:06:07.890Z");

function parse(certPem: string) {
  const der = decodePem(certPem, "CERTIFICATE");
  const [tbs, algorithm, signature] = children(readSingle(der, Tag.SEQUENCE));
  return { der, tbs, algorithm, signature, fields: children(tbs) };
}

/** Ecdsa-Sig-Value DER -> P1363 r||s (32 bytes each) for WebCrypto verify. */
function derToP1363(sig: Uint8Array): Uint8Array<ArrayBuffer> {
  const [r, s] = children(readSingle(sig, Tag.SEQUENCE)).map(readUnsignedInteger);
  const out = new Uint8Array(64);
  out.set(r, 32 - r.length);
  out.set(s, 64 - s.length);
  return out;
}

function extensionsOf(fields: DerElement[]) {
  const wrapper = fields.find((f) => f.tag === 0xa3);
  assert.ok(wrapper, "extensions present");
  return children(children(wrapper)[0]).map((ext) => {
    const parts = children(ext);
    const critical = parts.length === 3 && parts[1].content[0] === 0xff;
    return { id: readOid(parts[0]), critical, value: parts[parts.length - 1].content };
  });
}

async function makeCert() {
  return await generateSelfSignedCertificate({
    commonName: "chat.example",
    dnsNames: ["localhost", "Chat.Example", "*.chat.example"],
    ipAddresses: ["127.0.0.1", "::1"],
    now: NOW,
  });
}

Deno.test("selfsigned: X.509 v3 structure, validity, serial and extensions", async () => {
  const cert = await makeCert();
  const { der, fields, algorithm } = parse(cert.certPem);
  const [version, serial, sigAlg, , validity] = fields;
  assert.equal(toHex(version.encoded), "a003020102");
  assert.equal(serial.content.length, 16);
  assert.equal(serial.content[0] & 0x80, 0, "serial is positive");
  assert.equal(toHex(sigAlg.encoded), "300a06082a8648ce3d040302"); // no parameters
  assert.deepEqual(algorithm.encoded, sigAlg.encoded);
  const [notBefore, notAfter] = children(validity).map(readTime);
  assert.equal(notBefore.toISOString(), "2026-03-04T04:06:07.000Z"); // now - 1h
  assert.equal(notAfter.toISOString(), "2028-06-06T05:06:07.000Z"); // now + 825 days
  assert.equal(cert.notAfter.getTime(), notAfter.getTime());
  assert.equal(
    cert.fingerprintSha256,
    toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", der))),
  );

  const exts = extensionsOf(fields);
  assert.deepEqual(exts.map((e) => [e.id, e.critical]), [
    [Oid.basicConstraints, true],
    [Oid.keyUsage, true],
    [Oid.extKeyUsage, false],
    [Oid.subjectAltName, false],
    [Oid.subjectKeyIdentifier, false],
  ]);
  assert.equal(toHex(exts[0].value), "3000"); // CA:FALSE (the DEFAULT, so omitted)
  assert.equal(toHex(exts[1].value), "03020780"); // digitalSignature only
  const sans = children(readSingle(exts[3].value)).map((n) => [n.tag, toHex(n.content)]);
  const ascii = (s: string) => toHex(new TextEncoder().encode(s));
  assert.deepEqual(sans, [
    [0x82, ascii("localhost")],
    [0x82, ascii("chat.example")], // lower-cased
    [0x82, ascii("*.chat.example")],
    [0x87, "7f000001"],
    [0x87, "00".repeat(15) + "01"],
  ]);
  // subjectKeyIdentifier = SHA-1 of the subjectPublicKey bits.
  const publicKeyBits = readBitStringBytes(children(fields[6])[1]).slice();
  const sha1 = new Uint8Array(await crypto.subtle.digest("SHA-1", publicKeyBits));
  assert.equal(toHex(exts[4].value), "0414" + toHex(sha1));
});

Deno.test("selfsigned: the signature verifies with WebCrypto against the certificate's key", async () => {
  const cert = await makeCert();
  const { tbs, signature, fields } = parse(cert.certPem);
  const key = await crypto.subtle.importKey(
    "spki",
    fields[6].encoded.slice(),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  const sig = derToP1363(readBitStringBytes(signature));
  const alg = { name: "ECDSA", hash: "SHA-256" };
  assert.ok(await crypto.subtle.verify(alg, key, sig, tbs.encoded.slice()));
  const tampered = tbs.encoded.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.equal(await crypto.subtle.verify(alg, key, sig, tampered), false);
});

Deno.test("selfsigned: P1363 -> DER signature keeps INTEGERs minimal and positive", () => {
  const r = new Uint8Array(32).fill(0x11);
  r[0] = 0x80; // high bit: needs a 0x00 prefix
  const s = new Uint8Array(32).fill(0x22);
  s[0] = 0;
  s[1] = 0x05; // leading zero: must be stripped
  const der = p1363ToDerSignature(new Uint8Array([...r, ...s]));
  assert.equal(toHex(der.subarray(0, 5)), "3044022100");
  assert.equal(toHex(der.subarray(37, 40)), "021f05");
  assert.deepEqual(derToP1363(der), new Uint8Array([...r, ...s]));
});

Deno.test("selfsigned: PKCS#8 key imports and signs for the certificate's public key", async () => {
  const cert = await makeCert();
  const { fields } = parse(cert.certPem);
  assert.match(cert.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const priv = await crypto.subtle.importKey(
    "pkcs8",
    decodePem(cert.keyPem, "PRIVATE KEY"),
    alg,
    false,
    ["sign"],
  );
  const pub = await crypto.subtle.importKey("spki", fields[6].encoded.slice(), alg, false, [
    "verify",
  ]);
  const msg = new TextEncoder().encode("hello");
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, priv, msg);
  assert.ok(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, sig, msg));
});

Deno.test("selfsigned: validity past 2049 switches to GeneralizedTime", async () => {
  const cert = await generateSelfSignedCertificate({
    commonName: "x",
    dnsNames: ["localhost"],
    ipAddresses: [],
    now: new Date("2049-06-01T00:00:00Z"),
  });
  const [notBefore, notAfter] = children(parse(cert.certPem).fields[4]);
  assert.equal(notBefore.tag, Tag.UTC_TIME);
  assert.equal(notAfter.tag, Tag.GENERALIZED_TIME);
  assert.equal(readTime(notAfter).getUTCFullYear(), 2051);
});

Deno.test("selfsigned: bad options raise typed errors", async () => {
  const base = { commonName: "x", dnsNames: ["localhost"], ipAddresses: [] as string[] };
  type ErrorClass = new (message: string) => Error;
  const cases: [Partial<typeof base> & { validityDays?: number }, ErrorClass][] = [
    [{ dnsNames: [] }, TlsCertificateError],
    [{ dnsNames: ["bad_name"] }, TlsCertificateError],
    [{ dnsNames: ["bücher.example"] }, TlsCertificateError],
    [{ dnsNames: ["*.com"] }, TlsCertificateError],
    [{ dnsNames: ["a..b"] }, TlsCertificateError],
    [{ commonName: "" }, TlsCertificateError],
    [{ commonName: "x".repeat(65) }, TlsCertificateError],
    [{ validityDays: 0 }, TlsCertificateError],
    [{ validityDays: 1.5 }, TlsCertificateError],
    [{ ipAddresses: ["300.1.1.1"] }, IpAddressError],
  ];
  for (const [override, errorClass] of cases) {
    await assert.rejects(
      generateSelfSignedCertificate({ ...base, ...override }),
      errorClass,
      JSON.stringify(override),
    );
  }
});

Deno.test({
  name: nameFor(
    "selfsigned: openssl parses it (CA:FALSE critical, SANs), checkend, self-signature verifies",
    "openssl",
    HAS_OPENSSL,
  ),
  ignore: !HAS_OPENSSL,
  async fn() {
    const cert = await generateSelfSignedCertificate({
      commonName: "chat.example",
      dnsNames: ["localhost", "chat.example"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const dir = await Deno.makeTempDir({ prefix: "commucat-tls-" });
    try {
      const certFile = `${dir}/cert.pem`;
      await Deno.writeTextFile(certFile, cert.certPem);

      const text = await run("openssl", ["x509", "-in", certFile, "-noout", "-text"]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /Version: 3 \(0x2\)/);
      assert.match(text.stdout, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text.stdout, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text.stdout, /X509v3 Key Usage: critical\s+Digital Signature\n/);
      assert.match(text.stdout, /X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication/);
      assert.match(
        text.stdout,
        /DNS:localhost, DNS:chat\.example, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/,
      );
      assert.match(text.stdout, /X509v3 Subject Key Identifier/);
      assert.match(text.stdout, /Subject: CN = chat\.example/);

      const fp = await run("openssl", [
        "x509",
        "-in",
        certFile,
        "-noout",
        "-fingerprint",
        "-sha256",
      ]);
      assert.equal(
        fp.stdout.trim().split("=")[1].replaceAll(":", "").toLowerCase(),
        cert.fingerprintSha256,
      );

      const checkend = await run("openssl", ["x509", "-in", certFile, "-noout", "-checkend", "0"]);
      assert.equal(checkend.code, 0, checkend.stdout + checkend.stderr);

      // -check_ss_sig makes openssl verify the self-signature of the trust anchor.
      const verify = await run("openssl", [
        "verify",
        "-x509_strict",
        "-check_ss_sig",
        "-partial_chain",
        "-trusted",
        certFile,
        certFile,
      ]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /cert\.pem: OK/);

      // Independently of WebCrypto: openssl checks our DER Ecdsa-Sig-Value over the TBS bytes.
      const { tbs, signature } = parse(cert.certPem);
      await Deno.writeFile(`${dir}/tbs.der`, tbs.encoded);
      await Deno.writeFile(`${dir}/sig.der`, readBitStringBytes(signature));
      const pub = await run("openssl", ["x509", "-in", certFile, "-noout", "-pubkey"]);
      await Deno.writeTextFile(`${dir}/pub.pem`, pub.stdout);
      const dgst = await run("openssl", [
        "dgst",
        "-sha256",
        "-verify",
        `${dir}/pub.pem`,
        "-signature",
        `${dir}/sig.der`,
        `${dir}/tbs.der`,
      ]);
      assert.equal(dgst.code, 0, dgst.stderr);
      assert.match(dgst.stdout, /Verified OK/);

      // The private key is a valid PKCS#8 EC key for openssl too.
      await Deno.writeTextFile(`${dir}/key.pem`, cert.keyPem);
      const key = await run("openssl", ["pkey", "-in", `${dir}/key.pem`, "-noout", "-check"]);
      assert.equal(key.code, 0, key.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: nameFor("selfsigned: openssl rejects a tampered signature", "openssl", HAS_OPENSSL),
  ignore: !HAS_OPENSSL,
  async fn() {
    const cert = await makeCert();
    const { der, signature } = parse(cert.certPem);
    // Flip a bit inside r of the signature (last bytes of the certificate are s).
    const offset = signature.encoded.byteOffset - der.byteOffset + signature.encoded.length - 40;
    const bad = der.slice();
    bad[offset] ^= 1;
    const dir = await Deno.makeTempDir({ prefix: "commucat-tls-" });
    try {
      const file = `${dir}/bad.pem`;
      await Deno.writeTextFile(file, encodePem("CERTIFICATE", bad));
      const verify = await run("openssl", [
        "verify",
        "-check_ss_sig",
        "-partial_chain",
        "-trusted",
        file,
        file,
      ]);
      assert.notEqual(verify.code, 0, verify.stdout);
      assert.match(verify.stdout + verify.stderr, /signature failure/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
