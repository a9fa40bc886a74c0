import assert from "node:assert/strict";
import { concatBytes, constantTimeEqual, fromHex, HexError, toHex, u32le, u64le } from "./bytes.ts";

Deno.test("hex round-trips and accepts either case", () => {
  const bytes = new Uint8Array([0, 1, 0xab, 0xff]);
  assert.equal(toHex(bytes), "0001abff");
  assert.deepEqual(fromHex("0001ABff"), bytes);
});

Deno.test("fromHex rejects odd length, bad characters and wrong length", () => {
  assert.throws(() => fromHex("abc"), HexError);
  assert.throws(() => fromHex("zz"), HexError);
  assert.throws(() => fromHex("00", 2), HexError);
});

Deno.test("constantTimeEqual compares content and length", () => {
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 0])), false);
});

Deno.test("little-endian integer encodings", () => {
  assert.equal(toHex(u32le(11)), "0b000000");
  assert.equal(toHex(u64le(1n << 63n)), "0000000000000080");
  assert.equal(toHex(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]))), "010203");
});
