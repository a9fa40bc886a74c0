import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { concatBytes, fromHex, toHex, utf8 } from "./bytes.ts";
import { deviceKeysFromSeed } from "./device_keys.ts";
import {
  ED25519_ORDER,
  halfScalars,
  halvedEquationHolds,
  plainEquationHolds,
  proveDeviceKey,
  verifyDeviceKeyProof,
  ZKP_DOMAIN_TAG,
  zkpContext,
  ZkpError,
  zkpFromJson,
  zkpToJson,
} from "./zkp.ts";

const keys = deviceKeysFromSeed(utf8("seed-seed-seed-seed-seed-seed-seed-seed"));
const PINNED_COMMITMENT = "5de730bf2b3d59d29ae36cdf32558c0977a557df330d9ab760dca971efa7a97e";
// nonce = 64 × 0x07, §21 device key and context
const PINNED_RESPONSE = "00dfb7544701cd301b2cf1494dec1f0e8f0896e961e342bff1cd91298dd94f0b";
const clientStatic = new Uint8Array(32).fill(1);
const context = zkpContext("example.org", "device-1", keys.publicKey, clientStatic);

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
function flipBit(b: Uint8Array, bit = 0): Uint8Array {
  const c = b.slice();
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}
const prove = (random?: Uint8Array) =>
  proveDeviceKey({ privateSeed: keys.privateKey, publicKey: keys.publicKey, context, random });

Deno.test("zkp: context bytes match the §21 vector (116 bytes)", () => {
  const expected = "636f6d6d756361743a7a6b703a68616e647368616b653a7631" + "0b000000" +
    "6578616d706c652e6f7267" + "08000000" + "6465766963652d31" +
    "244cb75cb1c0d93df56dad7477c082354d40d13afe48509ddaa5cfa79134550d" + "01".repeat(32);
  assert.equal(context.length, 116);
  assert.equal(toHex(context), expected);
  assert.equal(toHex(utf8(ZKP_DOMAIN_TAG)), expected.slice(0, 50));
});

Deno.test("zkp: context lengths are UTF-8 byte lengths", () => {
  const ctx = zkpContext("é.org", "ü", keys.publicKey, clientStatic);
  assert.equal(toHex(ctx.subarray(25, 29)), "06000000");
  assert.equal(toHex(ctx.subarray(35, 39)), "02000000");
  assert.throws(() => zkpContext("d", "x", keys.publicKey.subarray(1), clientStatic), ZkpError);
  assert.throws(() => zkpContext("d", "x", keys.publicKey, new Uint8Array(33)), ZkpError);
});

Deno.test("zkp: prove then verify succeeds; fresh proofs differ", () => {
  const p1 = prove();
  const p2 = prove();
  assert.equal(p1.commitment.length, 32);
  assert.equal(p1.response.length, 32);
  assert.notDeepEqual(p1.commitment, p2.commitment);
  for (const p of [p1, p2]) {
    assert.equal(verifyDeviceKeyProof({ publicKey: keys.publicKey, context, ...p }), true);
  }
});

Deno.test("zkp: response matches an independent computation of s = r + c·x", () => {
  const random = new Uint8Array(64).fill(7);
  const proof = prove(random);
  const L = ED25519_ORDER;
  const { scalar: x } = ed25519.utils.getExtendedPublicKey(keys.privateKey);
  const r = leNumber(random) % L;
  assert.deepEqual(proof.commitment, ed25519.Point.BASE.multiply(r).toBytes());
  const lenLe = new Uint8Array(8);
  new DataView(lenLe.buffer).setBigUint64(0, BigInt(context.length), true);
  const transcript = concatBytes(
    utf8(ZKP_DOMAIN_TAG),
    lenLe,
    context,
    keys.publicKey,
    proof.commitment,
  );
  const c = leNumber(nobleBlake3(transcript, { dkLen: 64 })) % L;
  assert.equal(leNumber(proof.response), (r + c * x) % L);
  assert.deepEqual(prove(random), proof); // deterministic for a fixed nonce
  // Regression pin (derived by this implementation, not by upstream).
  assert.equal(toHex(proof.commitment), PINNED_COMMITMENT);
  assert.equal(toHex(proof.response), PINNED_RESPONSE);
});

Deno.test("zkp: tampered proofs, contexts and keys are rejected", () => {
  const proof = prove();
  const base = { publicKey: keys.publicKey, context, ...proof };
  for (const bit of [0, 9, 100, 254]) {
    assert.equal(
      verifyDeviceKeyProof({ ...base, commitment: flipBit(proof.commitment, bit) }),
      false,
    );
    assert.equal(verifyDeviceKeyProof({ ...base, response: flipBit(proof.response, bit) }), false);
    assert.equal(verifyDeviceKeyProof({ ...base, publicKey: flipBit(keys.publicKey, bit) }), false);
  }
  assert.equal(verifyDeviceKeyProof({ ...base, context: flipBit(context, 800) }), false);
  const other = zkpContext("example.org", "device-2", keys.publicKey, clientStatic);
  assert.equal(verifyDeviceKeyProof({ ...base, context: other }), false);
  const otherKey = deviceKeysFromSeed(new Uint8Array(32)).publicKey;
  assert.equal(verifyDeviceKeyProof({ ...base, publicKey: otherKey }), false);
});

Deno.test("zkp: non-canonical responses are rejected", () => {
  const proof = prove();
  const base = { publicKey: keys.publicKey, context, ...proof };
  const s = leNumber(proof.response);
  assert.ok(s + ED25519_ORDER < 2n ** 256n);
  for (const bad of [s + ED25519_ORDER, ED25519_ORDER, 2n ** 256n - 1n]) {
    assert.equal(verifyDeviceKeyProof({ ...base, response: leBytes(bad) }), false);
  }
});

Deno.test("zkp: undecodable and small-order points are rejected", () => {
  const proof = prove();
  const base = { publicKey: keys.publicKey, context, ...proof };
  const undecodable = fromHex("0200000000000000000000000000000000000000000000000000000000000000");
  assert.equal(verifyDeviceKeyProof({ ...base, commitment: undecodable }), false);
  assert.equal(verifyDeviceKeyProof({ ...base, publicKey: undecodable }), false);
  const identity = fromHex("0100000000000000000000000000000000000000000000000000000000000000");
  const zero = new Uint8Array(32);
  // A = R = identity, s = 0 satisfies s·B == R + c·A; only the small-order check stops it.
  assert.equal(
    verifyDeviceKeyProof({ publicKey: identity, context, commitment: identity, response: zero }),
    false,
  );
  // Small-order R: R = identity with s = c·x would verify without the hardening.
  const order4 = fromHex("0000000000000000000000000000000000000000000000000000000000000080");
  for (const r of [identity, order4]) {
    assert.equal(verifyDeviceKeyProof({ ...base, commitment: r }), false);
  }
  // Non-canonical encoding of a valid point (y + p) is refused.
  const nonCanonical = fromHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  assert.equal(verifyDeviceKeyProof({ ...base, commitment: nonCanonical }), false);
});

Deno.test("zkp: malformed lengths give false; prover refuses a mismatched key", () => {
  const proof = prove();
  const base = { publicKey: keys.publicKey, context, ...proof };
  assert.equal(verifyDeviceKeyProof({ ...base, response: proof.response.subarray(1) }), false);
  assert.equal(
    verifyDeviceKeyProof({ ...base, commitment: concatBytes(proof.commitment, new Uint8Array(1)) }),
    false,
  );
  const other = deviceKeysFromSeed(new Uint8Array(40));
  assert.throws(
    () => proveDeviceKey({ privateSeed: keys.privateKey, publicKey: other.publicKey, context }),
    ZkpError,
  );
  assert.throws(() => prove(new Uint8Array(32)), ZkpError);
  assert.throws(() => prove(new Uint8Array(64)), ZkpError); // nonce reduces to zero
});

Deno.test("zkp: JSON round trip, either hex case, exact lengths", () => {
  const proof = prove();
  const json = zkpToJson(proof);
  assert.match(json.commitment, /^[0-9a-f]{64}$/);
  assert.deepEqual(zkpFromJson(JSON.parse(JSON.stringify(json))), proof);
  const upper = {
    commitment: json.commitment.toUpperCase(),
    response: json.response.toUpperCase(),
  };
  assert.deepEqual(zkpFromJson(upper), proof);
  assert.throws(() => zkpFromJson({ ...json, commitment: json.commitment.slice(2) }), ZkpError);
  assert.throws(() => zkpFromJson({ ...json, response: json.response + "00" }), ZkpError);
  assert.throws(() => zkpFromJson({ ...json, response: "zz" + json.response.slice(2) }), ZkpError);
  assert.throws(() => zkpFromJson({ commitment: json.commitment }), ZkpError);
  assert.throws(() => zkpFromJson(null), ZkpError);
  assert.throws(() => zkpFromJson("x"), ZkpError);
});

Deno.test("zkp: half scalars satisfy u ≡ v·c (mod 8ℓ) with v odd and ~128-bit sizes", () => {
  const N = 8n * ED25519_ORDER;
  let none = 0;
  for (let i = 0; i < 500; i++) {
    const c = leNumber(crypto.getRandomValues(new Uint8Array(40))) % ED25519_ORDER;
    const pair = halfScalars(c);
    // Rarely no odd short pair exists; verify then uses the plain equation.
    if (pair === null) {
      none++;
      continue;
    }
    const [u, v] = pair;
    assert.equal((((v * c - u) % N) + N) % N, 0n);
    assert.equal(v & 1n, 1n);
    assert.ok(u > 0n && u < 2n ** 136n);
    assert.ok((v < 0n ? -v : v) < 2n ** 136n);
  }
  assert.ok(none < 25, `short pairs exist for nearly every challenge (${none}/500 without)`);
  assert.equal(halfScalars(0n), null);
  assert.deepEqual(halfScalars(1n), [1n, 1n]);
});

Deno.test("zkp: the halved equation agrees with the plain one, torsion included", () => {
  const P = ed25519.Point;
  const random = () => leNumber(crypto.getRandomValues(new Uint8Array(40))) % ED25519_ORDER;
  // A point of order 8 (the torsion subgroup is cyclic of order 8).
  const t8 = P.fromBytes(
    fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    true,
  );
  assert.ok(!t8.multiplyUnsafe(4n).is0() && t8.multiplyUnsafe(8n).is0());
  let fallbacks = 0;
  for (let i = 0; i < 40; i++) {
    const s = random();
    const c = random();
    const torsionA = t8.multiplyUnsafe(BigInt(i % 8));
    const A = P.BASE.multiplyUnsafe(random()).add(torsionA);
    const good = P.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(c)); // s·B = R + c·A
    const cases: [typeof good, boolean][] = [
      [good, true],
      [good.add(t8.multiplyUnsafe(BigInt(1 + (i % 7)))), false], // off by a torsion point
      [good.negate(), good.is0()],
      [P.BASE.multiplyUnsafe(random()), false],
    ];
    for (const [R, expected] of cases) {
      assert.equal(plainEquationHolds(s, c, A, R), expected);
      // null = no short pair for this challenge: verify falls back to the plain equation.
      const halved = halvedEquationHolds(s, c, A, R);
      if (halved === null) fallbacks++;
      else assert.equal(halved, expected);
    }
  }
  assert.ok(fallbacks < 40, "the halved path is the common one");
});
