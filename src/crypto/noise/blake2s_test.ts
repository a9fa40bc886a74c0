import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { blake2s } from "./blake2s.ts";
import { toHex } from "../bytes.ts";

const nodeBlake2s = (...parts: Uint8Array[]) => {
  const hash = createHash("blake2s256");
  for (const part of parts) hash.update(part);
  return toHex(new Uint8Array(hash.digest()));
};

Deno.test("blake2s: the RFC 7693 vector and the empty input", () => {
  assert.equal(
    toHex(blake2s(new TextEncoder().encode("abc"))),
    "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
  );
  assert.equal(
    toHex(blake2s()),
    "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9",
  );
  assert.equal(toHex(blake2s(new Uint8Array(0))), nodeBlake2s());
});

Deno.test("blake2s: equals node:crypto for every length around the block edges, in parts", () => {
  // Deterministic bytes: lengths 0..300 cover 0-5 blocks and every partial tail.
  const data = new Uint8Array(300).map((_, i) => (i * 131 + 7) & 0xff);
  for (let length = 0; length <= 300; length++) {
    const input = data.subarray(0, length);
    assert.equal(toHex(blake2s(input)), nodeBlake2s(input), `length ${length}`);
    const cut = Math.floor(length / 3);
    const parts = [input.subarray(0, cut), input.subarray(cut, 2 * cut), input.subarray(2 * cut)];
    assert.equal(toHex(blake2s(...parts)), nodeBlake2s(input), `length ${length} in 3 parts`);
  }
});

Deno.test("blake2s: one call's output is not changed by the next (scratch state is reused)", () => {
  const first = blake2s(new Uint8Array([1]));
  const copy = toHex(first);
  blake2s(new Uint8Array(200));
  assert.equal(toHex(first), copy);
});
