import assert from "node:assert/strict";
import {
  domainMessage,
  ML_DSA_65,
  ML_KEM_768,
  PqError,
  pqSuite,
  signDeterministic,
} from "./mod.ts";

async function rejectsWith(
  fn: () => Promise<unknown>,
  type: typeof PqError,
  fragment: string,
): Promise<void> {
  await assert.rejects(fn, (err) => err instanceof type && err.message.includes(fragment));
}

const webcrypto = pqSuite("webcrypto");
const noble = pqSuite("noble");
const PAIRS = [[webcrypto, noble], [noble, webcrypto], [webcrypto, webcrypto], [noble, noble]];

function seed(length: number, fill: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + fill) & 0xff);
}

Deno.test("pq: both backends derive the same ML-KEM-768 and ML-DSA-65 keys from a seed", async () => {
  const kemSeed = seed(ML_KEM_768.seedLength, 7);
  const dsaSeed = seed(ML_DSA_65.seedLength, 9);
  const [a, b] = [
    await webcrypto.kem.keyPairFromSeed(kemSeed),
    await noble.kem.keyPairFromSeed(kemSeed),
  ];
  assert.deepEqual(a.publicKey.length, ML_KEM_768.publicKeyLength);
  assert.deepEqual(a.publicKey, b.publicKey);
  const [c, d] = [
    await webcrypto.signer.keyPairFromSeed(dsaSeed),
    await noble.signer.keyPairFromSeed(dsaSeed),
  ];
  assert.deepEqual(c.publicKey.length, ML_DSA_65.publicKeyLength);
  assert.deepEqual(c.publicKey, d.publicKey);
  // A fresh key pair round-trips through its seed on the other backend.
  const fresh = await webcrypto.kem.generateKeyPair();
  assert.deepEqual((await noble.kem.keyPairFromSeed(fresh.seed)).publicKey, fresh.publicKey);
});

Deno.test("pq: each backend decapsulates the other's encapsulation", async () => {
  for (const [encapsulator, decapsulator] of PAIRS) {
    const keyPair = await decapsulator.kem.generateKeyPair();
    const { ciphertext, sharedSecret } = await encapsulator.kem.encapsulate(keyPair.publicKey);
    assert.deepEqual(ciphertext.length, ML_KEM_768.ciphertextLength);
    assert.deepEqual(sharedSecret.length, ML_KEM_768.sharedSecretLength);
    assert.deepEqual(await decapsulator.kem.decapsulate(keyPair, ciphertext), sharedSecret);
    // A key pair rebuilt from the seed alone (no cached private key) decapsulates too.
    const rebuilt = { seed: keyPair.seed, publicKey: keyPair.publicKey };
    assert.deepEqual(await decapsulator.kem.decapsulate(rebuilt, ciphertext), sharedSecret);
  }
});

Deno.test("pq: a flipped ciphertext bit yields another secret, the same on both backends", async () => {
  const keyPair = await noble.kem.keyPairFromSeed(seed(64, 3));
  const { ciphertext, sharedSecret } = await noble.kem.encapsulate(keyPair.publicKey, seed(32, 5));
  const tampered = ciphertext.slice();
  tampered[100] ^= 0x01;
  const rejected = await webcrypto.kem.decapsulate(keyPair, tampered);
  assert.notDeepEqual(rejected, sharedSecret);
  assert.deepEqual(await noble.kem.decapsulate(keyPair, tampered), rejected);
});

Deno.test("pq: deterministic encapsulation (noble) is decapsulated by WebCrypto", async () => {
  const keyPair = await webcrypto.kem.keyPairFromSeed(seed(64, 11));
  const one = await noble.kem.encapsulate(keyPair.publicKey, seed(32, 1));
  const two = await noble.kem.encapsulate(keyPair.publicKey, seed(32, 1));
  assert.deepEqual(one.ciphertext, two.ciphertext);
  assert.deepEqual(await webcrypto.kem.decapsulate(keyPair, one.ciphertext), one.sharedSecret);
  await rejectsWith(
    () => webcrypto.kem.encapsulate(keyPair.publicKey, seed(32, 1)),
    PqError,
    "deterministically",
  );
});

Deno.test("pq: wrong-size keys and ciphertexts are refused with a PqError naming the field", async () => {
  for (const suite of [webcrypto, noble]) {
    const keyPair = await suite.kem.generateKeyPair();
    await rejectsWith(
      () => suite.kem.encapsulate(new Uint8Array(1183)),
      PqError,
      "public key must be 1184",
    );
    await rejectsWith(
      () => suite.kem.decapsulate(keyPair, new Uint8Array(1087)),
      PqError,
      "ciphertext must be 1088",
    );
    await rejectsWith(
      () => suite.kem.keyPairFromSeed(new Uint8Array(32)),
      PqError,
      "seed must be 64",
    );
    await rejectsWith(
      () => suite.signer.keyPairFromSeed(new Uint8Array(64)),
      PqError,
      "seed must be 32",
    );
  }
});

Deno.test("pq: each backend verifies the other's ML-DSA-65 signature; tampering fails", async () => {
  const message = domainMessage("commucat/test", seed(32, 2));
  for (const [signerSuite, verifierSuite] of PAIRS) {
    const keyPair = await signerSuite.signer.generateKeyPair();
    const signature = await signerSuite.signer.sign(keyPair, message);
    assert.deepEqual(signature.length, ML_DSA_65.signatureLength);
    assert.ok(await verifierSuite.signer.verify(keyPair.publicKey, message, signature));
    const flipped = signature.slice();
    flipped[10] ^= 0x80;
    assert.equal(false, await verifierSuite.signer.verify(keyPair.publicKey, message, flipped));
    assert.equal(
      false,
      await verifierSuite.signer.verify(keyPair.publicKey, message, signature.subarray(1)),
    );
    assert.equal(
      false,
      await verifierSuite.signer.verify(new Uint8Array(1952), message, signature),
    );
    const other = domainMessage("commucat/other", seed(32, 2));
    assert.equal(false, await verifierSuite.signer.verify(keyPair.publicKey, other, signature));
  }
});

Deno.test("pq: deterministic signatures (vectors) repeat and verify on WebCrypto", async () => {
  const dsaSeed = seed(32, 4);
  const message = domainMessage("commucat/test", seed(40, 6));
  const one = signDeterministic(dsaSeed, message);
  assert.deepEqual(signDeterministic(dsaSeed, message), one);
  const keyPair = await webcrypto.signer.keyPairFromSeed(dsaSeed);
  assert.ok(await webcrypto.signer.verify(keyPair.publicKey, message, one));
});

Deno.test("pq: domainMessage prefixes domain and a NUL, and refuses odd domains", () => {
  assert.deepEqual(domainMessage("ab", new Uint8Array([9])), new Uint8Array([0x61, 0x62, 0, 9]));
  for (const bad of ["", "a b", "x".repeat(65), "nul\0"]) {
    let caught: unknown;
    try {
      domainMessage(bad, new Uint8Array(0));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof PqError, `domain ${JSON.stringify(bad)} accepted`);
  }
});
