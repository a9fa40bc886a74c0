import assert from "node:assert/strict";
import { toHex, utf8 } from "./bytes.ts";
import {
  CertificateError,
  certificateMessage,
  certificateMessageText,
  certificateToJson,
  type DeviceCertificate,
  issueCertificate,
  parseCertificate,
  verifyCertificate,
} from "./certificate.ts";
import { deviceKeysFromSeed } from "./device_keys.ts";
import { nobleEd25519, sign } from "./ed25519.ts";

const ca = deviceKeysFromSeed(utf8("seed-seed-seed-seed-seed-seed-seed-seed"));
const PUB = "244cb75cb1c0d93df56dad7477c082354d40d13afe48509ddaa5cfa79134550d";
const device = deviceKeysFromSeed(new Uint8Array(32).fill(9));
const NOW = 1_760_000_000;

function issued(extra: Partial<Parameters<typeof issueCertificate>[0]> = {}): DeviceCertificate {
  return issueCertificate({
    caSeed: ca.privateKey,
    userId: "user-1",
    deviceId: "device-1",
    publicKey: device.publicKey,
    now: NOW,
    ...extra,
  });
}
const expect = {
  caPublic: ca.publicKey,
  now: NOW + 10,
  deviceId: "device-1",
  userId: "user-1",
  publicKey: device.publicKey,
};

Deno.test("certificate: §21 canonical message and signature", () => {
  const cert = issueCertificate({
    caSeed: ca.privateKey,
    userId: "user-1",
    deviceId: "device-1",
    publicKey: ca.publicKey,
    now: 1,
    validitySeconds: 1,
    serial: 42n,
  });
  assert.equal(
    certificateMessageText(cert),
    `{"serial":42,"user_id":"user-1","device_id":"device-1","public_key":"${PUB}",` +
      `"issuer":"${PUB}","issued_at":1,"expires_at":2}`,
  );
  assert.equal(
    cert.signature,
    "5fec64deb1feb23eaf8a0a2ed164a5c1c2209c58748912e3a2f4673eb16dee2b" +
      "9a8af8cc1ca8a686407451417c97baf67d4a9afae946763c8b319c6a086f5302",
  );
  const json = certificateToJson(cert);
  assert.equal(
    json,
    certificateMessageText(cert).slice(0, -1) + `,"signature":"${cert.signature}"}`,
  );
  assert.deepEqual(parseCertificate(json), cert);
  assert.deepEqual(verifyCertificate(cert, { caPublic: ca.publicKey, now: 1 }), { ok: true });
});

Deno.test("certificate: issue defaults, JSON round trip and verify", () => {
  const cert = issued();
  assert.equal(cert.issued_at, NOW);
  assert.equal(cert.expires_at, NOW + 2_592_000);
  assert.equal(cert.issuer, toHex(ca.publicKey));
  assert.equal(cert.public_key, toHex(device.publicKey));
  assert.equal(typeof cert.serial, "bigint");
  assert.ok(cert.serial >= 0n && cert.serial < 2n ** 64n);
  assert.notEqual(issued().serial, cert.serial);
  const back = parseCertificate(certificateToJson(cert));
  assert.deepEqual(back, cert);
  assert.deepEqual(verifyCertificate(back, expect), { ok: true });
  // the signature really is Ed25519 by the CA over the canonical message (reference backend)
  assert.equal(
    nobleEd25519.verify(
      Uint8Array.from(cert.signature.match(/../g)!.map((h) => parseInt(h, 16))),
      utf8(certificateMessageText(cert)),
      ca.publicKey,
    ),
    true,
  );
});

Deno.test("certificate: serial 2^64-1 round-trips exactly through JSON text", () => {
  const max = 2n ** 64n - 1n;
  const cert = issued({ serial: max });
  const json = certificateToJson(cert);
  assert.ok(json.startsWith('{"serial":18446744073709551615,'));
  const back = parseCertificate(json);
  assert.equal(back.serial, max);
  assert.deepEqual(verifyCertificate(back, expect), { ok: true });
  const near = 2n ** 53n + 1n; // not representable as a double
  assert.equal(parseCertificate(certificateToJson(issued({ serial: near }))).serial, near);
});

Deno.test("certificate: bad serials are refused", () => {
  const json = certificateToJson(issued({ serial: 7n }));
  const withSerial = (s: string) => json.replace('"serial":7', `"serial":${s}`);
  for (const s of ["18446744073709551616", "-1", "7.0", "7e0", '"7"', "null", "1.5"]) {
    assert.throws(() => parseCertificate(withSerial(s)), CertificateError, s);
  }
  assert.throws(() => issued({ serial: 2n ** 64n }), CertificateError);
  assert.throws(() => issued({ serial: -1n }), CertificateError);
  // object input: bigint, decimal string or safe number
  const obj = JSON.parse(json);
  assert.equal(parseCertificate({ ...obj, serial: 7n }).serial, 7n);
  assert.equal(parseCertificate({ ...obj, serial: "18446744073709551615" }).serial, 2n ** 64n - 1n);
  assert.equal(parseCertificate({ ...obj, serial: 7 }).serial, 7n);
  assert.throws(
    () => parseCertificate({ ...obj, serial: 2 ** 64 }),
    (e: Error) => e instanceof CertificateError && /lost precision/.test(e.message),
  );
  assert.throws(() => parseCertificate({ ...obj, serial: "07" }), CertificateError);
  assert.throws(() => parseCertificate({ ...obj, serial: 1.5 }), CertificateError);
});

Deno.test("certificate: field validation", () => {
  const obj = JSON.parse(certificateToJson(issued({ serial: 5n })));
  const bad: Record<string, unknown>[] = [
    { public_key: obj.public_key.slice(2) },
    { public_key: obj.public_key + "00" },
    { issuer: "zz" + obj.issuer.slice(2) },
    { signature: obj.signature.slice(1) },
    { signature: 5 },
    { user_id: 1 },
    { device_id: null },
    { device_id: "\ud800" },
    { issued_at: 1.5 },
    { expires_at: "2" },
    { expires_at: 2 ** 60 },
  ];
  for (const patch of bad) {
    assert.throws(() => parseCertificate({ ...obj, ...patch }), CertificateError);
  }
  assert.throws(() => parseCertificate("[1]"), CertificateError);
  assert.throws(() => parseCertificate("{"), CertificateError);
  assert.throws(() => parseCertificate("null"), CertificateError);
  // hex is accepted in either case and normalised to lower case; unknown fields are ignored
  const upper = parseCertificate({ ...obj, extra: true, signature: obj.signature.toUpperCase() });
  assert.equal(upper.signature, obj.signature);
});

Deno.test("certificate: strings are escaped exactly like JSON.stringify", () => {
  const userId = 'a"b\\c\n\t\u0001\u007f\u2028é😀';
  const cert = issued({ userId });
  const text = certificateMessageText(cert);
  assert.ok(text.includes(`"user_id":${JSON.stringify(userId)}`));
  assert.ok(text.includes("\\u0001"));
  assert.deepEqual(JSON.parse(text).user_id, userId);
  const back = parseCertificate(certificateToJson(cert));
  assert.equal(back.user_id, userId);
  assert.deepEqual(verifyCertificate(back, { ...expect, userId }), { ok: true });
});

Deno.test("certificate: tampering with each field is caught with the right reason", () => {
  const cert = issued();
  const other = deviceKeysFromSeed(new Uint8Array(32).fill(3));
  const flipHex = (h: string) => (h[0] === "0" ? "1" : "0") + h.slice(1);
  const cases: [Partial<DeviceCertificate>, string][] = [
    [{ serial: cert.serial ^ 1n }, "bad_signature"],
    [{ user_id: "user-2" }, "bad_signature"],
    [{ device_id: "device-2" }, "bad_signature"],
    [{ public_key: toHex(other.publicKey) }, "bad_signature"],
    [{ issued_at: cert.issued_at - 1 }, "bad_signature"],
    [{ expires_at: cert.expires_at + 1 }, "bad_signature"],
    [{ signature: flipHex(cert.signature) }, "bad_signature"],
    [
      { signature: cert.signature.slice(0, 64) + flipHex(cert.signature.slice(64)) },
      "bad_signature",
    ],
    [{ issuer: toHex(other.publicKey) }, "issuer_mismatch"],
  ];
  for (const [patch, reason] of cases) {
    assert.deepEqual(verifyCertificate({ ...cert, ...patch }, expect), { ok: false, reason });
  }
  assert.deepEqual(verifyCertificate(cert, { ...expect, caPublic: other.publicKey }), {
    ok: false,
    reason: "issuer_mismatch",
  });
  assert.deepEqual(verifyCertificate(cert, { ...expect, deviceId: "device-2" }), {
    ok: false,
    reason: "device_mismatch",
  });
  assert.deepEqual(verifyCertificate(cert, { ...expect, userId: "user-2" }), {
    ok: false,
    reason: "user_mismatch",
  });
  assert.deepEqual(verifyCertificate(cert, { ...expect, publicKey: other.publicKey }), {
    ok: false,
    reason: "key_mismatch",
  });
  // a certificate signed by a different CA but claiming our issuer
  const forged = issueCertificate({
    caSeed: other.privateKey,
    userId: "user-1",
    deviceId: "device-1",
    publicKey: device.publicKey,
    now: NOW,
  });
  assert.deepEqual(verifyCertificate({ ...forged, issuer: cert.issuer }, expect), {
    ok: false,
    reason: "bad_signature",
  });
});

Deno.test("certificate: validity window, expiry and skew edges", () => {
  const cert = issued({ validitySeconds: 100 });
  const at = (now: number, skewSeconds?: number) =>
    verifyCertificate(cert, { caPublic: ca.publicKey, now, skewSeconds });
  assert.deepEqual(at(NOW), { ok: true });
  assert.deepEqual(at(NOW + 99), { ok: true });
  assert.deepEqual(at(NOW + 100), { ok: false, reason: "expired" });
  assert.deepEqual(at(NOW + 101), { ok: false, reason: "expired" });
  assert.deepEqual(at(NOW - 300), { ok: true });
  assert.deepEqual(at(NOW - 301), { ok: false, reason: "not_yet_valid" });
  assert.deepEqual(at(NOW - 10, 0), { ok: false, reason: "not_yet_valid" });
  assert.deepEqual(at(NOW, 0), { ok: true });
  // issued_at ≥ expires_at cannot come from issueCertificate; sign such bodies by hand
  for (const [issuedAt, expiresAt] of [[NOW, NOW], [NOW + 5, NOW]]) {
    const data = { ...cert, issued_at: issuedAt, expires_at: expiresAt };
    const bad = { ...data, signature: toHex(sign(certificateMessage(data), ca.privateKey)) };
    assert.deepEqual(verifyCertificate(bad, { caPublic: ca.publicKey, now: NOW - 1 }), {
      ok: false,
      reason: "bad_validity_window",
    });
  }
});

Deno.test("certificate: issuing rejects bad inputs", () => {
  assert.throws(() => issued({ now: 1.5 }), CertificateError);
  assert.throws(() => issued({ validitySeconds: 0 }), CertificateError);
  assert.throws(() => issued({ publicKey: new Uint8Array(31) }), CertificateError);
  assert.throws(() => issued({ caSeed: new Uint8Array(64) }), CertificateError);
  assert.throws(() => issued({ userId: "\udc00" }), CertificateError);
});
