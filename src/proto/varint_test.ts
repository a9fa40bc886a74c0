import assert from "node:assert/strict";
import { CodecError } from "./errors.ts";
import {
  decodeVarint,
  encodeVarint,
  readVarint,
  readVarintEnd,
  varintLength,
  writeVarint,
} from "./varint.ts";
import { Prng } from "./_test_util.ts";

Deno.test("varint: known encodings", () => {
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [70000, [0xf0, 0xa2, 0x04]],
    [16_777_217, [0x81, 0x80, 0x80, 0x08]],
    [0xffff_ffff, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, bytes] of cases) {
    assert.deepEqual([...encodeVarint(value)], bytes, `encode ${value}`);
    assert.equal(varintLength(value), bytes.length);
    assert.deepEqual(decodeVarint(new Uint8Array(bytes)), { value, length: bytes.length });
  }
});

Deno.test("varint: decode at an offset and bounded by end", () => {
  const buf = new Uint8Array([0xff, 0xac, 0x02, 0x05]);
  assert.deepEqual(decodeVarint(buf, 1), { value: 300, length: 2 });
  assert.equal(decodeVarint(buf, 1, 2), null);
  assert.equal(decodeVarint(buf, 4), null);
});

Deno.test("varint: truncation is 'need more', not an error", () => {
  assert.equal(decodeVarint(new Uint8Array([])), null);
  assert.equal(decodeVarint(new Uint8Array([0x80])), null);
  assert.equal(decodeVarint(new Uint8Array(9).fill(0xff)), null);
});

Deno.test("varint: a 10th byte with the continuation bit overflows", () => {
  assert.throws(
    () => decodeVarint(new Uint8Array(10).fill(0xff)),
    (e: unknown) => e instanceof CodecError && e.kind === "VarintOverflow",
  );
  // Ten bytes whose last one terminates are fine (value beyond 2^53 is approximate).
  const ten = new Uint8Array(10).fill(0xff);
  ten[9] = 0x01;
  const read = decodeVarint(ten);
  assert.equal(read?.length, 10);
  assert.ok(read!.value >= 2 ** 53);
});

Deno.test("varint: non-minimal encodings are accepted", () => {
  assert.deepEqual(decodeVarint(new Uint8Array([0x80, 0x00])), { value: 0, length: 2 });
  assert.deepEqual(decodeVarint(new Uint8Array([0x81, 0x80, 0x00])), { value: 1, length: 3 });
});

Deno.test("varint: encode rejects values that are not non-negative safe integers", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => encodeVarint(bad), RangeError);
  }
});

Deno.test("varint: property — random safe integers round-trip (1000 seeded cases)", () => {
  const rng = new Prng(0xc0ffee);
  for (let i = 0; i < 1000; i++) {
    const value = rng.chance(0.5)
      ? rng.u32()
      : Math.floor((rng.u32() * 0x20_0000) + (rng.u32() >>> 11)) % Number.MAX_SAFE_INTEGER;
    const buf = new Uint8Array(12);
    const end = writeVarint(value, buf, 1);
    assert.equal(end - 1, varintLength(value));
    assert.deepEqual(decodeVarint(buf, 1), { value, length: end - 1 });
    assert.equal(decodeVarint(buf, 1, end - 1), null);
  }
});

Deno.test("varint: readVarint agrees with decodeVarint (value, end, need more, overflow)", () => {
  const rng = new Prng(18);
  for (let i = 0; i < 500; i++) {
    const value = Math.floor((rng.u32() / 0x1_0000_0000) * 2 ** (1 + (i % 53)));
    const bytes = new Uint8Array([0xaa, ...encodeVarint(value), 0x01]);
    assert.equal(readVarint(bytes, 1, bytes.length), value);
    assert.equal(readVarintEnd(), 1 + varintLength(value));
    for (let end = 1; end < 1 + varintLength(value); end++) {
      assert.equal(readVarint(bytes, 1, end), -1);
      assert.equal(decodeVarint(bytes, 1, end), null);
    }
  }
  const overflow = new Uint8Array(11).fill(0x80);
  assert.throws(() => readVarint(overflow, 0, 11), CodecError);
});
