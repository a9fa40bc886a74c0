import assert from "node:assert/strict";
import { ed25519 as noble } from "@noble/curves/ed25519.js";
import { concatBytes, fromHex, toHex, utf8 } from "./bytes.ts";
import {
  createSigner,
  Ed25519Error,
  isWeakPublicKeyEncoding,
  nativeEd25519,
  nobleEd25519,
  publicFromSeed,
  sign,
  verify,
} from "./ed25519.ts";

const backends = [nativeEd25519, nobleEd25519];
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
function leNumber(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

Deno.test("ed25519: RFC 8032 test 1 and 2 on both backends", () => {
  const cases = [
    {
      seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      msg: "",
      sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    {
      seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      msg: "72",
      sig: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
  ];
  for (const b of backends) {
    for (const c of cases) {
      const seed = fromHex(c.seed);
      assert.equal(toHex(b.publicFromSeed(seed)), c.pub, b.name);
      assert.equal(toHex(b.sign(fromHex(c.msg), seed)), c.sig, b.name);
      assert.equal(b.verify(fromHex(c.sig), fromHex(c.msg), fromHex(c.pub)), true, b.name);
    }
  }
});

Deno.test("ed25519: default functions and signer use the same keys", () => {
  const seed = random(32);
  const msg = utf8("hello");
  const signer = createSigner(seed);
  assert.deepEqual(signer.publicKey, publicFromSeed(seed));
  assert.deepEqual(signer.sign(msg), sign(msg, seed));
  assert.equal(verify(sign(msg, seed), msg, signer.publicKey), true);
});

Deno.test("ed25519: native and noble produce identical keys and signatures", () => {
  for (let i = 0; i < 32; i++) {
    const seed = random(32);
    const msg = random(i * 7);
    assert.deepEqual(nativeEd25519.publicFromSeed(seed), nobleEd25519.publicFromSeed(seed));
    assert.deepEqual(nativeEd25519.sign(msg, seed), nobleEd25519.sign(msg, seed));
  }
});

Deno.test("ed25519: backends agree on random tamper cases", () => {
  for (let i = 0; i < 64; i++) {
    const seed = random(32);
    const msg = random(1 + (i % 40));
    const pub = nobleEd25519.publicFromSeed(seed);
    const sig = nobleEd25519.sign(msg, seed);
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [[sig, msg, pub]];
    const flip = (b: Uint8Array) => {
      const c = b.slice();
      const bit = crypto.getRandomValues(new Uint32Array(1))[0] % (c.length * 8);
      c[bit >> 3] ^= 1 << (bit & 7);
      return c;
    };
    cases.push([flip(sig), msg, pub], [sig, flip(msg), pub], [sig, msg, flip(pub)]);
    cases.push([random(64), msg, pub], [sig, msg, random(32)]);
    for (const [s, m, p] of cases) {
      const n = nativeEd25519.verify(s, m, p);
      assert.equal(n, nobleEd25519.verify(s, m, p));
      if (s === sig && m === msg && p === pub) assert.equal(n, true);
    }
  }
});

Deno.test("ed25519: non-canonical s (s + ℓ) and s ≥ ℓ are rejected by both", () => {
  const seed = random(32);
  const msg = utf8("m");
  const pub = publicFromSeed(seed);
  const sig = sign(msg, seed);
  const s = leNumber(sig.subarray(32));
  for (const bad of [s + L, L, 2n ** 256n - 1n]) {
    const forged = concatBytes(sig.subarray(0, 32), leBytes(bad));
    for (const b of backends) assert.equal(b.verify(forged, msg, pub), false, b.name);
  }
});

Deno.test("ed25519: small-order and non-canonical public keys are rejected by both", () => {
  const identity = fromHex("0100000000000000000000000000000000000000000000000000000000000000");
  // R = identity, s = 0 satisfies the cofactorless equation for A = identity.
  const forged = concatBytes(identity, new Uint8Array(32));
  const msg = utf8("anything");
  for (const b of backends) assert.equal(b.verify(forged, msg, identity), false, b.name);
  const torsion = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    // non-canonical encodings (y ≥ p) of y = 1 and y = 0
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // x = 0 with the sign bit set
    "0100000000000000000000000000000000000000000000000000000000000080",
  ];
  for (const hex of torsion) {
    const pub = fromHex(hex);
    assert.equal(isWeakPublicKeyEncoding(pub), true, hex);
    for (const b of backends) {
      assert.equal(b.verify(forged, msg, pub), false, `${b.name} ${hex}`);
      assert.equal(b.verify(concatBytes(pub, new Uint8Array(32)), msg, pub), false);
    }
  }
  assert.equal(isWeakPublicKeyEncoding(publicFromSeed(random(32))), false);
});

Deno.test("ed25519: undecodable keys and wrong lengths give false, never throw", () => {
  const seed = random(32);
  const msg = utf8("m");
  const pub = publicFromSeed(seed);
  const sig = sign(msg, seed);
  const undecodable = fromHex("0200000000000000000000000000000000000000000000000000000000000000");
  assert.throws(() => noble.Point.fromBytes(undecodable));
  for (const b of backends) {
    assert.equal(b.verify(sig, msg, undecodable), false);
    assert.equal(b.verify(sig.subarray(0, 63), msg, pub), false);
    assert.equal(b.verify(concatBytes(sig, new Uint8Array(1)), msg, pub), false);
    assert.equal(b.verify(sig, msg, pub.subarray(0, 31)), false);
    assert.equal(b.verify(sig, msg, new Uint8Array(0)), false);
  }
});

Deno.test("ed25519: wrong seed length throws Ed25519Error", () => {
  for (const b of backends) {
    assert.throws(() => b.publicFromSeed(new Uint8Array(31)), Ed25519Error);
    assert.throws(() => b.sign(utf8("m"), new Uint8Array(64)), Ed25519Error);
  }
  assert.throws(() => createSigner(new Uint8Array(33)), Ed25519Error);
});
