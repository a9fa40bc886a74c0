import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { assemble, render, TARGETS } from "../../wasm/build.ts";
import { ED25519_WAT } from "../../wasm/ed25519_gen.ts";
import { concatBytes, fromHex, toHex } from "./bytes.ts";
import { deviceKeysFromSeed } from "./device_keys.ts";
import {
  ED25519_ORDER,
  plainEquationHolds,
  proveDeviceKey,
  verifyDeviceKeyProof,
  verifyDeviceKeyProofReference,
  type VerifyInput,
  zkpContext,
} from "./zkp.ts";
import { halfScalars } from "./zkp_scalars.ts";
import { BASE_POINT_2_128_HEX, BASE_POINT_HEX, wasmEquationHolds } from "./zkp_wasm.ts";

const Point = ed25519.Point;
const P = 2n ** 255n - 19n;

function le(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const randomScalar = () => {
  let n = 0n;
  for (const b of randomBytes(40)) n = (n << 8n) | BigInt(b);
  return n % ED25519_ORDER;
};
const withSign = (b: Uint8Array) => {
  const c = b.slice();
  c[31] |= 0x80;
  return c;
};

/** The eight points of small order (canonical), by their usual encodings. */
const SMALL_ORDER = [
  "0100000000000000000000000000000000000000000000000000000000000000", // identity
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0000000000000000000000000000000000000000000000000000000000000080", // order 4
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
].map((h) => fromHex(h));

/** Non-canonical y = p + k (k < 19) with either sign bit, and the identity/order-2 sign-bit forms. */
const NON_CANONICAL = [
  ...Array.from({ length: 19 }, (_, k) => le(P + BigInt(k))).flatMap((b) => [b, withSign(b)]),
  withSign(SMALL_ORDER[0]),
  withSign(SMALL_ORDER[1]),
];

function agree(input: VerifyInput, label: string): boolean {
  const ours = verifyDeviceKeyProof(input);
  const reference = verifyDeviceKeyProofReference(input);
  assert.equal(
    ours,
    reference,
    `${label}: A=${toHex(input.publicKey)} R=${toHex(input.commitment)} s=${
      toHex(input.response)
    } ctx=${toHex(input.context)}`,
  );
  return ours;
}

function randomProof() {
  const keys = deviceKeysFromSeed(randomBytes(32));
  const context = zkpContext(
    "example.org",
    `device-${Math.random()}`,
    keys.publicKey,
    randomBytes(32),
  );
  const proof = proveDeviceKey({
    privateSeed: keys.privateKey,
    publicKey: keys.publicKey,
    context,
  });
  return { publicKey: keys.publicKey, context, ...proof };
}

Deno.test("zkp wasm: the committed module is the build of the generated .wat", async () => {
  const root = new URL("../../", import.meta.url);
  assert.equal(await Deno.readTextFile(new URL("wasm/ed25519_verify.wat", root)), ED25519_WAT);
  const target = TARGETS.find((t) => t.source === "wasm/ed25519_verify.wat");
  assert.ok(target);
  const current = await Deno.readTextFile(new URL(target.output, root));
  assert.equal(current, await render(target, await assemble(target.source, ED25519_WAT)));
});

Deno.test("zkp wasm: agrees with the reference on honest and tampered proofs", () => {
  let accepted = 0;
  for (let i = 0; i < 120; i++) {
    const good = randomProof();
    accepted += Number(agree(good, "honest"));
    const bit = (b: Uint8Array) => {
      const c = b.slice();
      const at = Math.floor(Math.random() * 8 * b.length);
      c[at >> 3] ^= 1 << (at & 7);
      return c;
    };
    assert.equal(agree({ ...good, commitment: bit(good.commitment) }, "R bit"), false);
    assert.equal(agree({ ...good, response: bit(good.response) }, "s bit"), false);
    assert.equal(agree({ ...good, publicKey: bit(good.publicKey) }, "A bit"), false);
    assert.equal(agree({ ...good, context: bit(good.context) }, "context bit"), false);
    // A random 32-byte R (undecodable about half the time) and a random A.
    assert.equal(agree({ ...good, commitment: randomBytes(32) }, "random R"), false);
    assert.equal(agree({ ...good, publicKey: randomBytes(32) }, "random A"), false);
  }
  assert.equal(accepted, 120);
});

Deno.test("zkp wasm: small-order, non-canonical and s ≥ ℓ inputs are rejected by both", () => {
  const good = randomProof();
  const s = BigInt("0x" + toHex(good.response.slice().reverse()));
  for (const bad of [...SMALL_ORDER, ...NON_CANONICAL]) {
    assert.equal(agree({ ...good, commitment: bad }, "bad R"), false);
    assert.equal(agree({ ...good, publicKey: bad }, "bad A"), false);
    assert.equal(
      agree({ ...good, publicKey: bad, commitment: bad, response: new Uint8Array(32) }, "both"),
      false,
    );
  }
  // The honest R plus a torsion point: the exact (cofactorless) equation fails.
  const R = Point.fromBytes(good.commitment);
  for (const t of SMALL_ORDER.slice(1)) {
    const tainted = R.add(Point.fromBytes(t)).toBytes();
    assert.equal(agree({ ...good, commitment: tainted }, "R + torsion"), false);
  }
  for (const big of [s + ED25519_ORDER, ED25519_ORDER, 2n ** 256n - 1n]) {
    if (big < 2n ** 256n) assert.equal(agree({ ...good, response: le(big) }, "s ≥ ℓ"), false);
  }
  assert.equal(agree({ ...good, response: good.response.subarray(1) }, "short s"), false);
  assert.equal(
    agree({ ...good, commitment: concatBytes(good.commitment, new Uint8Array(1)) }, "long R"),
    false,
  );
});

Deno.test("zkp wasm: the equation agrees with noble, torsion in A and the fallback path included", () => {
  const t8 = Point.fromBytes(SMALL_ORDER[4]);
  let checked = 0;
  let torsionAccepted = 0;
  for (let i = 0; i < 48; i++) {
    const s = randomScalar();
    // c = 0 has no half pair: the module then walks s·B − R − c·A directly.
    const c = i % 6 === 0 ? 0n : randomScalar();
    if (c === 0n) assert.equal(halfScalars(c), null);
    const A = Point.BASE.multiplyUnsafe(randomScalar()).add(t8.multiplyUnsafe(BigInt(i % 8)));
    const good = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(c));
    const candidates = [
      good,
      good.add(t8.multiplyUnsafe(BigInt(1 + (i % 7)))),
      good.negate(),
      Point.BASE.multiplyUnsafe(randomScalar()),
    ];
    for (const R of candidates) {
      if (A.isSmallOrder() || R.isSmallOrder()) continue;
      const expected = plainEquationHolds(s, c, A, R);
      assert.equal(wasmEquationHolds(A.toBytes(), R.toBytes(), s, c), expected);
      checked++;
      if (expected && i % 8 !== 0) torsionAccepted++;
    }
  }
  assert.ok(checked > 150);
  // With torsion in A the exact equation can still hold (s·B = R + c·A): both accept it.
  assert.ok(torsionAccepted > 10, `${torsionAccepted} torsion-A cases accepted`);
});

Deno.test("zkp wasm: the module's fixed points are B and 2^128·B", () => {
  assert.equal(BASE_POINT_HEX, toHex(Point.BASE.toBytes()));
  assert.equal(BASE_POINT_2_128_HEX, toHex(Point.BASE.multiplyUnsafe(2n ** 128n).toBytes()));
});
