import assert from "node:assert/strict";
import { utf8 } from "../bytes.ts";
import { CipherState } from "./cipher_state.ts";
import { NoiseError, type NoiseErrorCode } from "./errors.ts";
import { nativeChaChaPoly } from "./native.ts";
import { nobleChaChaPoly } from "./noble.ts";
import { MAX_NONCE } from "./primitives.ts";

const AD = utf8("ad");

function withCode(code: NoiseErrorCode) {
  return (err: unknown) => err instanceof NoiseError && err.code === code;
}

function pair(): [CipherState, CipherState] {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const a = new CipherState(nativeChaChaPoly);
  const b = new CipherState(nobleChaChaPoly);
  a.initializeKey(key);
  b.initializeKey(key);
  return [a, b];
}

Deno.test("without a key, CipherState passes data through", () => {
  const cs = new CipherState(nativeChaChaPoly);
  assert.equal(cs.hasKey(), false);
  const data = utf8("clear");
  assert.deepEqual(cs.encryptWithAd(AD, data), data);
  assert.deepEqual(cs.decryptWithAd(AD, data), data);
  assert.equal(cs.nonce, 0n);
  assert.throws(() => cs.rekey(), withCode("invalid-state"));
});

Deno.test("nonces advance in step and a failed decrypt does not consume one", () => {
  const [a, b] = pair();
  const c1 = a.encryptWithAd(AD, utf8("one"));
  const c2 = a.encryptWithAd(AD, utf8("two"));
  assert.equal(a.nonce, 2n);
  const forged = c1.slice();
  forged[0] ^= 1;
  assert.throws(() => b.decryptWithAd(AD, forged), withCode("decrypt-failed"));
  assert.equal(b.nonce, 0n);
  assert.deepEqual(b.decryptWithAd(AD, c1), utf8("one"));
  assert.deepEqual(b.decryptWithAd(AD, c2), utf8("two"));
});

Deno.test("nonce 2^64-1 is reserved: the CipherState errors once it gets there", () => {
  const [a, b] = pair();
  a.setNonce(MAX_NONCE - 1n);
  b.setNonce(MAX_NONCE - 1n);
  const last = a.encryptWithAd(AD, utf8("last"));
  assert.equal(a.nonce, MAX_NONCE);
  assert.throws(() => a.encryptWithAd(AD, utf8("one too many")), withCode("nonce-exhausted"));
  assert.deepEqual(b.decryptWithAd(AD, last), utf8("last"));
  assert.throws(() => b.decryptWithAd(AD, last), withCode("nonce-exhausted"));
  assert.throws(() => a.setNonce(MAX_NONCE + 1n), withCode("invalid-argument"));
  assert.throws(() => a.setNonce(-1n), withCode("invalid-argument"));
});

Deno.test("rekey changes the key identically on both backends and keeps the nonce", () => {
  const [a, b] = pair();
  a.encryptWithAd(AD, utf8("x"));
  b.setNonce(1n);
  a.rekey();
  b.rekey();
  assert.equal(a.nonce, 1n);
  const ct = a.encryptWithAd(AD, utf8("after rekey"));
  assert.deepEqual(b.decryptWithAd(AD, ct), utf8("after rekey"));
  const [c] = pair();
  c.setNonce(2n);
  assert.throws(() => c.decryptWithAd(AD, a.encryptWithAd(AD, utf8("y"))), NoiseError);
});

Deno.test("initializeKey copies the key and insists on 32 bytes", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const a = new CipherState(nativeChaChaPoly);
  const b = new CipherState(nativeChaChaPoly);
  a.initializeKey(key);
  b.initializeKey(key.slice());
  key.fill(0);
  assert.deepEqual(b.decryptWithAd(AD, a.encryptWithAd(AD, utf8("z"))), utf8("z"));
  assert.throws(() => a.initializeKey(new Uint8Array(16)), withCode("invalid-argument"));
});

Deno.test("in place: both backends (noble without in-place forms) interoperate with the copying forms", () => {
  const [a, b] = pair();
  const buf = new Uint8Array(2 + 5 + 16);
  buf.set(utf8("hello"), 2);
  assert.equal(b.encryptInPlace(AD, buf, 2, 5), 21, "noble: sealed by copy, same layout");
  assert.deepEqual(a.decryptWithAd(AD, buf.subarray(2)), utf8("hello"));
  const sealed = a.encryptWithAd(AD, utf8("back"));
  const forged = sealed.slice();
  forged[0] ^= 1;
  assert.throws(() => b.decryptInPlace(AD, forged), withCode("decrypt-failed"));
  assert.equal(b.nonce, 1n, "a failed decrypt does not consume a nonce");
  assert.deepEqual(b.decryptInPlace(AD, sealed), utf8("back"));
  const clear = new CipherState(nativeChaChaPoly);
  assert.equal(clear.encryptInPlace(AD, buf, 0, 4), 4, "without a key: passed through");
});
