import assert from "node:assert/strict";
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, fromHex, utf8 } from "./bytes.ts";
import { deviceKeysFromSeed } from "./device_keys.ts";
import { nobleEd25519 } from "./ed25519.ts";
import {
  ROTATION_PROOF_TAG,
  RotationProofError,
  rotationProofMessage,
  signRotationProof,
  verifyRotationProof,
} from "./rotation_proof.ts";

const current = deviceKeysFromSeed(utf8("seed-seed-seed-seed-seed-seed-seed-seed"));
const next = deviceKeysFromSeed(new Uint8Array(32).fill(5));
const fields = {
  deviceId: "device-1",
  newPublicKey: next.publicKey,
  expiresAt: 1_760_000_600,
  nonce: fromHex("0102030405060708"),
};

Deno.test("rotation proof: message layout", () => {
  const expected = blake3(concatBytes(
    utf8("commucat:device-rotation:v1"),
    utf8("device-1"),
    next.publicKey,
    fromHex("0000000068e77a58"), // 1_760_000_600 as i64 big-endian
    fromHex("0102030405060708"),
  ));
  assert.equal(ROTATION_PROOF_TAG, "commucat:device-rotation:v1");
  assert.deepEqual(rotationProofMessage(fields), expected);
  assert.deepEqual(rotationProofMessage({ ...fields, expiresAt: 1_760_000_600n }), expected);
  const noNonce = blake3(concatBytes(
    utf8("commucat:device-rotation:v1"),
    utf8("device-1"),
    next.publicKey,
    fromHex("0000000068e77a58"),
  ));
  assert.deepEqual(rotationProofMessage({ ...fields, nonce: undefined }), noNonce);
  assert.deepEqual(
    rotationProofMessage({ ...fields, expiresAt: -1, nonce: undefined }),
    blake3(concatBytes(
      utf8("commucat:device-rotation:v1"),
      utf8("device-1"),
      next.publicKey,
      fromHex("ffffffffffffffff"),
    )),
  );
});

Deno.test("rotation proof: sign and verify with the current key", () => {
  const sig = signRotationProof(current.privateKey, fields);
  assert.equal(sig.length, 64);
  assert.equal(verifyRotationProof(current.publicKey, sig, fields), true);
  assert.equal(
    nobleEd25519.verify(sig, rotationProofMessage(fields), current.publicKey),
    true,
  );
});

Deno.test("rotation proof: any change to the bound fields or key fails", () => {
  const sig = signRotationProof(current.privateKey, fields);
  const tampered = [
    { ...fields, deviceId: "device-2" },
    { ...fields, newPublicKey: current.publicKey },
    { ...fields, expiresAt: fields.expiresAt + 1 },
    { ...fields, nonce: fromHex("0102030405060709") },
    { ...fields, nonce: undefined },
  ];
  for (const f of tampered) assert.equal(verifyRotationProof(current.publicKey, sig, f), false);
  assert.equal(verifyRotationProof(next.publicKey, sig, fields), false);
  const flipped = sig.slice();
  flipped[10] ^= 1;
  assert.equal(verifyRotationProof(current.publicKey, flipped, fields), false);
  assert.equal(verifyRotationProof(current.publicKey, sig.subarray(1), fields), false);
});

Deno.test("rotation proof: malformed fields throw RotationProofError", () => {
  assert.throws(
    () => rotationProofMessage({ ...fields, newPublicKey: new Uint8Array(31) }),
    RotationProofError,
  );
  assert.throws(() => rotationProofMessage({ ...fields, expiresAt: 1.5 }), RotationProofError);
  assert.throws(
    () => rotationProofMessage({ ...fields, expiresAt: 1n << 63n }),
    RotationProofError,
  );
});
