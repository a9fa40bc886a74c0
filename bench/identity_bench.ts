/** Device identity crypto: ZKP, Ed25519 backends, certificates. Run: scripts/deno task bench */
import { utf8 } from "../src/crypto/bytes.ts";
import { issueCertificate, verifyCertificate } from "../src/crypto/certificate.ts";
import { deviceKeysFromSeed } from "../src/crypto/device_keys.ts";
import { createSigner, nativeEd25519, nobleEd25519 } from "../src/crypto/ed25519.ts";
import {
  proveDeviceKey,
  verifyDeviceKeyProof,
  verifyDeviceKeyProofReference,
  zkpContext,
} from "../src/crypto/zkp.ts";

const keys = deviceKeysFromSeed(utf8("seed-seed-seed-seed-seed-seed-seed-seed"));
const ca = deviceKeysFromSeed(new Uint8Array(32).fill(0x20));
const context = zkpContext("example.org", "device-1", keys.publicKey, new Uint8Array(32).fill(1));
const proof = proveDeviceKey({ privateSeed: keys.privateKey, publicKey: keys.publicKey, context });
const message = utf8("x".repeat(200));
const signature = nativeEd25519.sign(message, keys.privateKey);
const signer = createSigner(keys.privateKey);
const now = 1_760_000_000;

Deno.bench("zkp prove", { group: "zkp" }, () => {
  proveDeviceKey({ privateSeed: keys.privateKey, publicKey: keys.publicKey, context });
});
Deno.bench("zkp verify (WebAssembly)", { group: "zkp" }, () => {
  if (!verifyDeviceKeyProof({ publicKey: keys.publicKey, context, ...proof })) throw new Error();
});
Deno.bench("zkp verify (noble reference)", { group: "zkp" }, () => {
  const input = { publicKey: keys.publicKey, context, ...proof };
  if (!verifyDeviceKeyProofReference(input)) throw new Error();
});

Deno.bench("ed25519 sign native", { group: "sign", baseline: true }, () => {
  nativeEd25519.sign(message, keys.privateKey);
});
Deno.bench("ed25519 sign native (held signer)", { group: "sign" }, () => {
  signer.sign(message);
});
Deno.bench("ed25519 sign noble", { group: "sign" }, () => {
  nobleEd25519.sign(message, keys.privateKey);
});
Deno.bench("ed25519 verify native", { group: "verify", baseline: true }, () => {
  if (!nativeEd25519.verify(signature, message, keys.publicKey)) throw new Error();
});
Deno.bench("ed25519 verify noble", { group: "verify" }, () => {
  if (!nobleEd25519.verify(signature, message, keys.publicKey)) throw new Error();
});

Deno.bench("certificate issue + verify", { group: "certificate" }, () => {
  const cert = issueCertificate({
    caSeed: ca.privateKey,
    userId: "user-1",
    deviceId: "device-1",
    publicKey: keys.publicKey,
    now,
  });
  if (!verifyCertificate(cert, { caPublic: ca.publicKey, now }).ok) throw new Error();
});
