import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex } from "../bytes.ts";
import { describeNoiseKey, describeNoiseKeyForAck, type NoiseKey } from "./keyring.ts";

function key(pq: boolean): NoiseKey {
  const signingPublic = new Uint8Array(1952).map((_, i) => i & 0xff);
  return {
    version: 7,
    privateKey: new Uint8Array(32),
    publicKey: new Uint8Array(32).fill(9),
    pqSigning: pq ? { publicKey: signingPublic, seed: new Uint8Array(32) } : null,
    validAfter: new Date("2026-12-01T00:00:00Z"),
    rotatesAt: new Date("2026-12-08T00:00:00Z"),
    expiresAt: new Date("2026-12-09T00:00:00Z"),
  };
}

Deno.test("keyring: the Ack names the ML-DSA key by its SHA-256, server-info carries the key", () => {
  const k = key(true);
  const full = describeNoiseKey(k, toHex);
  const ack = describeNoiseKeyForAck(k, toHex);
  assert.equal(full.pq_signing_public, toHex(k.pqSigning!.publicKey));
  assert.equal(
    ack.pq_signing_sha256,
    createHash("sha256").update(k.pqSigning!.publicKey).digest("hex"),
  );
  assert.equal("pq_signing_public" in ack, false);
  assert.equal(ack.public, full.public);
  assert.equal(ack.expires_at, "2026-12-09T00:00:00.000Z");
  assert.equal(describeNoiseKeyForAck(k, toHex), ack, "made once per key");
});

Deno.test("keyring: a key without an ML-DSA identity has no digest in the Ack", () => {
  const ack = describeNoiseKeyForAck(key(false), toHex);
  assert.equal("pq_signing_sha256" in ack, false);
  assert.equal(ack.version, 7);
});
