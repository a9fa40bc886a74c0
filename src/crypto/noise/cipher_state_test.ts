import assert from "node:assert/strict";
import { utf8 } from "../bytes.ts";
import { CipherState } from "./cipher_state.ts";
import { NoiseError, type NoiseErrorCode } from "./errors.ts";
import { nativeChaChaPoly } from "./native.ts";
import { nobleChaChaPoly } from "./noble.ts";
import { MAX_COUNTER_NONCE, MAX_NONCE, nonceHigh, nonceLow } from "./primitives.ts";

const AD = utf8("ad");

function withCode(code: NoiseErrorCode) {
  return (err: unknown) => err instanceof NoiseError && err.code === code;
}

const KEYS = new WeakMap<CipherState, Uint8Array>();

/** The key a test CipherState was given. */
function keyOf(cs: CipherState): Uint8Array {
  return KEYS.get(cs)!;
}

function pair(): [CipherState, CipherState] {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const a = new CipherState(nativeChaChaPoly);
  const b = new CipherState(nobleChaChaPoly);
  a.initializeKey(key);
  b.initializeKey(key);
  KEYS.set(a, key);
  KEYS.set(b, key);
  return [a, b];
}

Deno.test("without a key, CipherState passes data through", () => {
  const cs = new CipherState(nativeChaChaPoly);
  assert.equal(cs.hasKey(), false);
  const data = utf8("clear");
  assert.deepEqual(cs.encryptWithAd(AD, data), data);
  assert.deepEqual(cs.decryptWithAd(AD, data), data);
  assert.equal(cs.nonce, 0);
  assert.throws(() => cs.rekey(), withCode("invalid-state"));
});

Deno.test("nonces advance in step and a failed decrypt does not consume one", () => {
  const [a, b] = pair();
  const c1 = a.encryptWithAd(AD, utf8("one"));
  const c2 = a.encryptWithAd(AD, utf8("two"));
  assert.equal(a.nonce, 2);
  assert.equal(typeof a.nonce, "number", "a number counter: no bigint allocated per message");
  const forged = c1.slice();
  forged[0] ^= 1;
  assert.throws(() => b.decryptWithAd(AD, forged), withCode("decrypt-failed"));
  assert.equal(b.nonce, 0);
  assert.deepEqual(b.decryptWithAd(AD, c1), utf8("one"));
  assert.deepEqual(b.decryptWithAd(AD, c2), utf8("two"));
});

Deno.test("the number counter stops at 2^53-1, long before Noise's reserved 2^64-1", () => {
  const [a, b] = pair();
  a.setNonce(MAX_COUNTER_NONCE - 1);
  b.setNonce(BigInt(MAX_COUNTER_NONCE - 1)); // a bigint in range is taken as well
  const last = a.encryptWithAd(AD, utf8("last"));
  assert.equal(a.nonce, MAX_COUNTER_NONCE);
  assert.throws(() => a.encryptWithAd(AD, utf8("one too many")), withCode("nonce-exhausted"));
  assert.deepEqual(b.decryptWithAd(AD, last), utf8("last"));
  assert.throws(() => b.decryptWithAd(AD, last), withCode("nonce-exhausted"));
  assert.throws(() => a.setNonce(MAX_COUNTER_NONCE + 1), withCode("invalid-argument"));
  assert.throws(() => a.setNonce(MAX_NONCE), withCode("invalid-argument"));
  assert.throws(() => a.setNonce(-1n), withCode("invalid-argument"));
  assert.throws(() => a.setNonce(-1), withCode("invalid-argument"));
  assert.throws(() => a.setNonce(1.5), withCode("invalid-argument"));
});

Deno.test("a number nonce above 2^32 seals exactly as the same bigint nonce (both backends)", () => {
  const [a, b] = pair();
  const n = 2 ** 52 + 2 ** 32 + 7;
  assert.equal(nonceLow(n), 7);
  assert.equal(nonceHigh(n), 2 ** 20 + 1);
  assert.equal(nonceLow(MAX_NONCE), 0xffff_ffff);
  assert.equal(nonceHigh(MAX_NONCE), 0xffff_ffff);
  a.setNonce(n);
  const sealed = a.encryptWithAd(AD, utf8("high"));
  assert.deepEqual(sealed, nobleChaChaPoly.encrypt(keyOf(b), BigInt(n), AD, utf8("high")));
  b.setNonce(n);
  assert.deepEqual(b.decryptWithAd(AD, sealed), utf8("high"));
});

Deno.test("initializeKey into shared storage: each key at its offset, rekeyed and wiped alone", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const other = crypto.getRandomValues(new Uint8Array(32));
  const shared = new Uint8Array(96).fill(7);
  const a = new CipherState(nativeChaChaPoly);
  const b = new CipherState(nobleChaChaPoly);
  const plain = new CipherState(nativeChaChaPoly);
  a.initializeKey(key, shared, 32);
  b.initializeKey(other, shared, 0);
  plain.initializeKey(key);
  assert.deepEqual(shared.subarray(32, 64), key);
  assert.deepEqual(shared.subarray(0, 32), other);
  assert.deepEqual(shared.subarray(64), new Uint8Array(32).fill(7), "the rest is untouched");
  // The key at an offset seals exactly as the same key on its own (WebAssembly and OpenSSL sizes).
  for (const size of [5, 5000]) {
    const msg = crypto.getRandomValues(new Uint8Array(size));
    assert.deepEqual(a.encryptWithAd(AD, msg), plain.encryptWithAd(AD, msg));
  }
  a.rekey();
  plain.rekey();
  assert.deepEqual(a.encryptWithAd(AD, utf8("r")), plain.encryptWithAd(AD, utf8("r")));
  assert.deepEqual(shared.subarray(0, 32), other, "rekey changes only its own key");
  const noble = new CipherState(nobleChaChaPoly);
  noble.initializeKey(other);
  assert.deepEqual(b.encryptWithAd(AD, utf8("n")), noble.encryptWithAd(AD, utf8("n")));
  a.destroy();
  assert.deepEqual(shared.subarray(32, 64), new Uint8Array(32));
  assert.deepEqual(shared.subarray(0, 32), other, "the other key is untouched");
  assert.throws(() => b.initializeKey(key, shared, 80), withCode("invalid-argument"));
  assert.throws(() => b.initializeKey(key, shared.subarray(0, 16)), withCode("invalid-argument"));
});

Deno.test("rekey changes the key identically on both backends and keeps the nonce", () => {
  const [a, b] = pair();
  a.encryptWithAd(AD, utf8("x"));
  b.setNonce(1);
  a.rekey();
  b.rekey();
  assert.equal(a.nonce, 1);
  const ct = a.encryptWithAd(AD, utf8("after rekey"));
  assert.deepEqual(b.decryptWithAd(AD, ct), utf8("after rekey"));
  const [c] = pair();
  c.setNonce(2);
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
  assert.equal(b.nonce, 1, "a failed decrypt does not consume a nonce");
  assert.deepEqual(b.decryptInPlace(AD, sealed), utf8("back"));
  const clear = new CipherState(nativeChaChaPoly);
  assert.equal(clear.encryptInPlace(AD, buf, 0, 4), 4, "without a key: passed through");
});

Deno.test("openInPlace: the plaintext over the ciphertext's start, its length returned, on every backend and size", () => {
  for (const size of [0, 5, 200, 4096, 5000]) {
    const [a, b] = pair();
    const plain = new CipherState(nativeChaChaPoly);
    plain.initializeKey(keyOf(a));
    const msg = crypto.getRandomValues(new Uint8Array(size));
    // native (WebAssembly up to 4 KiB, OpenSSL above) and noble (no in-place form: copied back).
    for (const receiver of [a, b]) {
      const sealed = plain.encryptWithAd(AD, msg);
      plain.setNonce(plain.nonce - 1);
      const forged = sealed.slice();
      forged[sealed.length - 1] ^= 1;
      assert.throws(() => receiver.openInPlace(AD, forged), withCode("decrypt-failed"));
      assert.equal(receiver.nonce, 0, "a failed open does not consume a nonce");
      assert.deepEqual(forged.subarray(0, size), sealed.subarray(0, size), "nor changes the bytes");
      assert.equal(receiver.openInPlace(AD, sealed), size);
      assert.deepEqual(sealed.subarray(0, size), msg, `size ${size}`);
      assert.equal(receiver.nonce, 1);
    }
  }
  const clear = new CipherState(nativeChaChaPoly);
  assert.equal(clear.openInPlace(AD, new Uint8Array(7)), 7, "without a key: passed through");
});
