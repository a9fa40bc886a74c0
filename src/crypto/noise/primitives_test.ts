import assert from "node:assert/strict";
import { fromHex, toHex, utf8 } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import {
  nativeBlake2b,
  nativeBlake2s,
  nativeChaChaPoly,
  nativeSha256,
  nativeX25519,
} from "./native.ts";
import { nobleBlake2b, nobleBlake2s, nobleChaChaPoly, nobleSha256, nobleX25519 } from "./noble.ts";
import { hkdf } from "./symmetric_state.ts";
import { WASM_HASH_LIMIT } from "./wasm_blake2s.ts";
import { MAX_NONCE } from "./primitives.ts";

const DHS = [nativeX25519, nobleX25519];

/** Low-order X25519 u-coordinates (RFC 7748 §6.1 / libsodium blocklist). */
const LOW_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
].map((hex) => fromHex(hex));

Deno.test("X25519 matches RFC 7748 §6.1 on both backends", () => {
  const alicePriv = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const bobPriv = fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  for (const dh of DHS) {
    const alice = dh.keyPairFromPrivate(alicePriv);
    const bob = dh.keyPairFromPrivate(bobPriv);
    assert.equal(
      toHex(alice.publicKey),
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    );
    assert.equal(
      toHex(bob.publicKey),
      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    );
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    assert.equal(toHex(dh.dh(alice, bob.publicKey)), shared);
    assert.equal(toHex(dh.dh(bob, alice.publicKey)), shared);
  }
});

Deno.test("X25519 native and noble agree on random keys, either side generating", () => {
  for (let i = 0; i < 8; i++) {
    const a = nativeX25519.generateKeyPair();
    const b = nobleX25519.generateKeyPair();
    assert.deepEqual(nobleX25519.keyPairFromPrivate(a.privateKey).publicKey, a.publicKey);
    assert.deepEqual(nativeX25519.keyPairFromPrivate(b.privateKey).publicKey, b.publicKey);
    const viaNative = nativeX25519.dh(a, b.publicKey);
    assert.deepEqual(nobleX25519.dh(a, b.publicKey), viaNative);
    assert.deepEqual(nativeX25519.dh(b, a.publicKey), viaNative);
  }
});

Deno.test("X25519 rejects low-order public keys on both backends", () => {
  for (const dh of DHS) {
    const pair = dh.generateKeyPair();
    for (const point of LOW_ORDER) {
      assert.throws(
        () => dh.dh(pair, point),
        (err) => err instanceof NoiseError && err.code === "invalid-public-key",
        `${toHex(point)} on ${dh === nativeX25519 ? "native" : "noble"}`,
      );
    }
  }
});

Deno.test("native X25519: a peer key used again (kept imported) gives what noble gives", () => {
  const ours = [nativeX25519.generateKeyPair(), nativeX25519.generateKeyPair()];
  const peers = [nobleX25519.generateKeyPair().publicKey, nobleX25519.generateKeyPair().publicKey];
  // Pairs on one peer key (as a handshake's DHs come), changes, a peer key edited in place.
  const steps: [number, number][] = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0], [0, 0], [1, 1]];
  for (const [mine, peer] of steps) {
    assert.deepEqual(
      nativeX25519.dh(ours[mine], peers[peer]),
      nobleX25519.dh(ours[mine], peers[peer]),
      `ours ${mine}, peer ${peer}`,
    );
  }
  const edited = peers[1];
  edited[5] ^= 1;
  assert.deepEqual(nativeX25519.dh(ours[0], edited), nobleX25519.dh(ours[0], edited));
  // A refused key between two uses of the same good one changes nothing.
  assert.throws(() => nativeX25519.dh(ours[0], new Uint8Array(32)), NoiseError);
  assert.deepEqual(nativeX25519.dh(ours[1], edited), nobleX25519.dh(ours[1], edited));
});

Deno.test("X25519 rejects keys of the wrong length", () => {
  for (const dh of DHS) {
    assert.throws(() => dh.keyPairFromPrivate(new Uint8Array(31)), NoiseError);
    assert.throws(() => dh.dh(dh.generateKeyPair(), new Uint8Array(33)), NoiseError);
  }
});

Deno.test("ChaChaPoly native and noble agree, with and without associated data", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  for (const length of [0, 1, 63, 64, 65, 1000, 65519]) {
    const plaintext = crypto.getRandomValues(new Uint8Array(length));
    for (const ad of [new Uint8Array(0), utf8("associated data")]) {
      for (const nonce of [0n, 1n, 0x1_0000_0001n, MAX_NONCE]) {
        const a = nativeChaChaPoly.encrypt(key, nonce, ad, plaintext);
        const b = nobleChaChaPoly.encrypt(key, nonce, ad, plaintext);
        assert.equal(toHex(a), toHex(b));
        assert.deepEqual(nativeChaChaPoly.decrypt(key, nonce, ad, b), plaintext);
        assert.deepEqual(nobleChaChaPoly.decrypt(key, nonce, ad, a), plaintext);
      }
    }
  }
});

Deno.test("ChaChaPoly rejects tampering and a wrong nonce or ad on both backends", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ad = utf8("ad");
  for (const cipher of [nativeChaChaPoly, nobleChaChaPoly]) {
    const ct = cipher.encrypt(key, 5n, ad, utf8("hello"));
    const isDecryptFailed = (err: unknown) =>
      err instanceof NoiseError && err.code === "decrypt-failed";
    for (let i = 0; i < ct.length; i++) {
      const bad = ct.slice();
      bad[i] ^= 0x01;
      assert.throws(() => cipher.decrypt(key, 5n, ad, bad), isDecryptFailed);
    }
    assert.throws(() => cipher.decrypt(key, 6n, ad, ct), isDecryptFailed);
    assert.throws(() => cipher.decrypt(key, 5n, new Uint8Array(0), ct), isDecryptFailed);
    assert.throws(() => cipher.decrypt(key, 5n, ad, ct.subarray(0, 15)), isDecryptFailed);
  }
});

Deno.test("hashes match known answers and agree across backends, HMAC and HKDF included", () => {
  const abc = utf8("abc");
  assert.equal(
    toHex(nativeBlake2s.digest(abc)),
    "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
  );
  // RFC 7693 Appendix A.
  assert.equal(
    toHex(nativeBlake2b.digest(abc)),
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1" +
      "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
  );
  assert.equal(nativeBlake2b.hashLen, 64);
  assert.equal(nativeBlake2b.blockLen, 128);
  assert.equal(
    toHex(nativeSha256.digest(abc)),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  // RFC 4231 test case 2.
  assert.equal(
    toHex(nativeSha256.hmac(utf8("Jefe"), utf8("what do ya want for nothing?"))),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  for (
    const [native, noble] of [
      [nativeBlake2s, nobleBlake2s],
      [nativeBlake2b, nobleBlake2b],
      [nativeSha256, nobleSha256],
    ]
  ) {
    assert.equal(native.hashLen, noble.hashLen);
    assert.equal(native.blockLen, noble.blockLen);
    for (const keyLength of [0, 32, 64, 65, 128, 129, 200]) {
      const key = crypto.getRandomValues(new Uint8Array(keyLength));
      const data = crypto.getRandomValues(new Uint8Array(100));
      assert.deepEqual(native.digest(key, data), noble.digest(key, data));
      assert.deepEqual(
        native.hmac(key, data.subarray(0, 7), data.subarray(7)),
        noble.hmac(key, data),
      );
    }
    // Both sides of the WebAssembly BLAKE2s limit of the native backend.
    for (const length of [100, WASM_HASH_LIMIT, WASM_HASH_LIMIT + 1]) {
      const data = crypto.getRandomValues(new Uint8Array(length));
      assert.deepEqual(native.digest(data.subarray(0, 5), data.subarray(5)), noble.digest(data));
      const key = data.subarray(0, 32);
      assert.deepEqual(native.hmac(key, data.subarray(5)), noble.hmac(key, data.subarray(5)));
      assert.deepEqual(
        hkdf(native, key, data.subarray(1), 3),
        hkdf(noble, key, data.subarray(1), 3),
      );
    }
    const ck = crypto.getRandomValues(new Uint8Array(native.hashLen));
    const ikm = crypto.getRandomValues(new Uint8Array(32));
    assert.deepEqual(hkdf(native, ck, ikm, 3), hkdf(noble, ck, ikm, 3));
    assert.deepEqual(hkdf(native, ck, ikm, 2), hkdf(noble, ck, ikm, 3).slice(0, 2));
  }
});
