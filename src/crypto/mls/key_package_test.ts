import assert from "node:assert/strict";
import { encodeMlsMessage } from "ts-mls/message.js";
import { encodeKeyPackage, generateKeyPackage } from "ts-mls/keyPackage.js";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import { getCiphersuiteFromName } from "ts-mls/crypto/ciphersuite.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { defaultLifetime } from "ts-mls/lifetime.js";
import { generateDeviceKeys } from "../device_keys.ts";
import { signDeviceKeyPackage, verifyDeviceKeyPackage } from "../device_key_package.ts";
import { decodeKeyPackage, verifyKeyPackage } from "./key_package.ts";
import { MlsDecodeError } from "./tls.ts";

async function tsMlsPackage(suiteName: string, identity: string) {
  // deno-lint-ignore no-explicit-any
  const cs = await getCiphersuiteImpl(getCiphersuiteFromName(suiteName as any));
  const credential = {
    credentialType: "basic" as const,
    identity: new TextEncoder().encode(identity),
  };
  const { publicPackage } = await generateKeyPackage(
    credential,
    defaultCapabilities(),
    defaultLifetime,
    [],
    cs,
  );
  return publicPackage;
}

Deno.test("mls key package: decodes and verifies what ts-mls generates, bare and as MLSMessage", async () => {
  const kp = await tsMlsPackage("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", "phone-1");
  const bare = encodeKeyPackage(kp);
  const wrapped = encodeMlsMessage({
    version: "mls10",
    wireformat: "mls_key_package",
    keyPackage: kp,
  });
  for (const [bytes, isWrapped] of [[bare, false], [wrapped, true]] as const) {
    const info = decodeKeyPackage(bytes);
    assert.equal(info.wrapped, isWrapped);
    assert.equal(info.cipherSuite, 1);
    assert.equal(info.scheme, "Ed25519");
    assert.deepEqual(info.credential, {
      type: "basic",
      identity: new TextEncoder().encode("phone-1"),
    });
    assert.deepEqual(info.initKey, kp.initKey);
    assert.deepEqual(info.signatureKey, kp.leafNode.signaturePublicKey);
    assert.equal(info.notAfter, defaultLifetime.notAfter);
    assert.ok(verifyKeyPackage(info));
  }
});

Deno.test("mls key package: P-256 (ECDSA, DER) packages verify too", async () => {
  const kp = await tsMlsPackage("MLS_128_DHKEMP256_AES128GCM_SHA256_P256", "laptop");
  const info = decodeKeyPackage(encodeKeyPackage(kp));
  assert.equal(info.scheme, "P256");
  assert.ok(verifyKeyPackage(info));
});

Deno.test("mls key package: a flipped bit anywhere signed fails; truncation and trailing bytes are malformed", async () => {
  const kp = await tsMlsPackage("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", "phone-1");
  const bytes = encodeKeyPackage(kp);
  // Flip one byte inside each signed region (leaf TBS, package TBS, both signatures).
  const info = decodeKeyPackage(bytes);
  const offsets = [
    info.leafTbs.byteOffset + info.leafTbs.length - 3, // leaf extensions / lifetime
    4 + 1 + 3, // init key
    info.leafSignature.byteOffset + 5,
    info.signature.byteOffset + 5,
  ];
  for (const at of offsets) {
    const bad = bytes.slice();
    bad[at] ^= 0x01;
    let ok: boolean;
    try {
      ok = verifyKeyPackage(decodeKeyPackage(bad));
    } catch (error) {
      assert.ok(error instanceof MlsDecodeError);
      ok = false;
    }
    assert.equal(ok, false, `flip at ${at}`);
  }
  assert.throws(() => decodeKeyPackage(bytes.subarray(0, bytes.length - 1)), MlsDecodeError);
  const trailing = new Uint8Array(bytes.length + 1);
  trailing.set(bytes);
  assert.throws(() => decodeKeyPackage(trailing), /trailing/);
  assert.throws(() => decodeKeyPackage(new Uint8Array(0)), MlsDecodeError);
  assert.throws(() => decodeKeyPackage(new Uint8Array([0, 2, 0, 1])), /version/);
});

Deno.test("device key package signature: binds the device id and the exact bytes", () => {
  const device = generateDeviceKeys();
  const bytes = new Uint8Array([1, 2, 3, 4]);
  const sig = signDeviceKeyPackage(device.privateKey, "phone", bytes);
  assert.ok(verifyDeviceKeyPackage(device.publicKey, "phone", bytes, sig));
  assert.equal(verifyDeviceKeyPackage(device.publicKey, "laptop", bytes, sig), false);
  assert.equal(
    verifyDeviceKeyPackage(device.publicKey, "phone", new Uint8Array([1, 2, 3]), sig),
    false,
  );
  assert.equal(verifyDeviceKeyPackage(generateDeviceKeys().publicKey, "phone", bytes, sig), false);
  assert.equal(verifyDeviceKeyPackage(device.publicKey, "phone", bytes, sig.subarray(1)), false);
});
