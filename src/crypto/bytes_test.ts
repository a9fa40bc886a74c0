import assert from "node:assert/strict";
import { concatBytes, constantTimeEqual, fromHex, HexError, toHex, u32le, u64le } from "./bytes.ts";

Deno.test("hex round-trips and accepts either case", () => {
  const bytes = new Uint8Array([0, 1, 0xab, 0xff]);
  assert.equal(toHex(bytes), "0001abff");
  assert.deepEqual(fromHex("0001ABff"), bytes);
});

Deno.test("hex agrees with a digit-by-digit reference at every length, views and Buffers included", async () => {
  // toHex/fromHex use the platform's codec where there is one: same output as before.
  const { Buffer } = await import("node:buffer");
  const reference = (b: Uint8Array) =>
    Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  for (let n = 0; n < 300; n += 7) {
    const bytes = crypto.getRandomValues(new Uint8Array(n + 3)).subarray(3);
    const hex = reference(bytes);
    assert.equal(toHex(bytes), hex);
    assert.equal(toHex(Buffer.from(bytes)), hex);
    assert.deepEqual(fromHex(hex), bytes);
    assert.deepEqual(fromHex(hex.toUpperCase()), bytes);
  }
  assert.equal(toHex(new Uint8Array(0)), "");
  assert.deepEqual(fromHex(""), new Uint8Array(0));
  for (const bad of ["0g", "g0", " 0", "0 ", "0x00", "\u00e90", "+1"]) {
    assert.throws(
      () => fromHex(bad),
      (e) => e instanceof HexError && /invalid hex/.test(e.message),
    );
  }
  assert.throws(
    () => fromHex("0011", 1),
    (e) => e instanceof HexError && /expected 1 bytes/.test(e.message),
  );
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
