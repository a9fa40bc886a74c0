import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex, utf8 } from "../bytes.ts";
import { blake2s } from "./blake2s.ts";
import { hkdfFromHmac, hmacFromDigest } from "./hmac.ts";
import { nativeBlake2s } from "./native.ts";
import { nobleBlake2s } from "./noble.ts";
import { blake2sWasm, hkdfBlake2sWasm, hmacBlake2sWasm, WASM_HASH_LIMIT } from "./wasm_blake2s.ts";

// The references: the TypeScript BLAKE2s (blake2s.ts) with the generic HMAC and HKDF.
const referenceHmac = (key: Uint8Array, ...parts: Uint8Array[]) =>
  hmacFromDigest(blake2s, 64, key, parts);
const referenceHkdf = (ck: Uint8Array, ikm: Uint8Array, n: 2 | 3) =>
  hkdfFromHmac({ hmac: referenceHmac }, ck, ikm, n).map(toHex);

const openssl = (data: Uint8Array) =>
  toHex(new Uint8Array(createHash("blake2s256").update(data).digest()));

/** Deterministic bytes, so a failure names a length that reproduces. */
const bytes = (length: number, seed = 7) =>
  new Uint8Array(length).map((_, i) => (i * 131 + seed) & 0xff);

Deno.test("BLAKE2s in WebAssembly: the RFC 7693 vector and the empty input", () => {
  assert.equal(
    toHex(blake2sWasm([utf8("abc")])),
    "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
  );
  assert.equal(
    toHex(blake2sWasm([])),
    "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9",
  );
});

Deno.test("BLAKE2s in WebAssembly equals the TypeScript reference and OpenSSL at every length to 300, in parts", () => {
  const data = bytes(300);
  for (let length = 0; length <= 300; length++) {
    const input = data.subarray(0, length);
    const expected = toHex(blake2s(input));
    assert.equal(openssl(input), expected, `reference, length ${length}`);
    assert.equal(toHex(blake2sWasm([input])), expected, `length ${length}`);
    const cut = Math.floor(length / 3);
    const parts = [input.subarray(0, cut), input.subarray(cut, 2 * cut), input.subarray(2 * cut)];
    assert.equal(toHex(blake2sWasm(parts)), expected, `length ${length} in 3 parts`);
  }
});

Deno.test("BLAKE2s in WebAssembly equals OpenSSL for long inputs up to its limit", () => {
  for (const length of [1023, 1024, 4096, 65_535 - 1024, WASM_HASH_LIMIT]) {
    const input = bytes(length, length);
    assert.equal(toHex(blake2sWasm([input])), openssl(input), `length ${length}`);
  }
});

Deno.test("HMAC-BLAKE2s in WebAssembly equals the reference for every key length to 64", () => {
  const data = bytes(200, 3);
  for (let keyLength = 0; keyLength <= 64; keyLength++) {
    const key = bytes(keyLength, keyLength);
    for (const length of [0, 1, 32, 33, 63, 64, 65, 127, 128, 200]) {
      const message = data.subarray(0, length);
      const expected = toHex(referenceHmac(key, message));
      assert.equal(toHex(hmacBlake2sWasm(key, [message])), expected, `key ${keyLength}, ${length}`);
      assert.equal(
        toHex(hmacBlake2sWasm(key, [message.subarray(0, 5), message.subarray(5)])),
        expected,
        `key ${keyLength}, ${length} in 2 parts`,
      );
    }
  }
  // And noble's HMAC, an independent implementation.
  const key = bytes(32, 9);
  assert.equal(toHex(hmacBlake2sWasm(key, [data])), toHex(nobleBlake2s.hmac(key, data)));
});

Deno.test("the Noise HKDF in WebAssembly equals the reference HKDF, 2 and 3 outputs", () => {
  for (const length of [0, 1, 32, 33, 64, 65, 100, 1000]) {
    const ck = bytes(32, length);
    const ikm = bytes(length, length + 1);
    for (const n of [2, 3] as const) {
      assert.deepEqual(hkdfBlake2sWasm(ck, ikm, n).map(toHex), referenceHkdf(ck, ikm, n), `${n}`);
    }
  }
});

Deno.test("the native BLAKE2s suite: WebAssembly and OpenSSL sides of the limit agree with noble", () => {
  const ck = bytes(32, 5);
  for (const length of [32, WASM_HASH_LIMIT, WASM_HASH_LIMIT + 1]) {
    const data = bytes(length, 11);
    assert.deepEqual(
      nativeBlake2s.digest(data.subarray(0, 3), data.subarray(3)),
      nobleBlake2s.digest(data),
    );
    assert.deepEqual(nativeBlake2s.hmac(ck, data), nobleBlake2s.hmac(ck, data));
    assert.deepEqual(
      nativeBlake2s.hkdf!(ck, data, 3).map(toHex),
      hkdfFromHmac(nobleBlake2s, ck, data, 3).map(toHex),
    );
  }
  // A key longer than the block is hashed first (RFC 2104), as noble does.
  const long = bytes(65, 1);
  assert.deepEqual(nativeBlake2s.hmac(long, ck), nobleBlake2s.hmac(long, ck));
});

Deno.test("BLAKE2s in WebAssembly: outputs are copies, not changed by the next call", () => {
  const first = blake2sWasm([bytes(10)]);
  const [k1, k2] = hkdfBlake2sWasm(bytes(32), bytes(32), 2);
  const before = [first, k1, k2].map(toHex);
  blake2sWasm([bytes(500)]);
  hmacBlake2sWasm(bytes(32, 1), [bytes(40)]);
  hkdfBlake2sWasm(bytes(32, 2), bytes(32, 3), 3);
  assert.deepEqual([first, k1, k2].map(toHex), before);
  assert.notEqual(toHex(k1), toHex(k2));
});
