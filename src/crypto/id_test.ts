import assert from "node:assert/strict";
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, toHex, utf8 } from "./bytes.ts";
import { generateId, nowUnixNanos, u128le, writeUnixNanosLe } from "./id.ts";

Deno.test("id: hex(BLAKE3(utf8(ctx) || u128_le(nanos)))", () => {
  const nanos = 1_760_000_000_123_456_789n;
  const le = new Uint8Array(16);
  let n = nanos;
  for (let i = 0; i < 16; i++) {
    le[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  const expected = toHex(blake3(concatBytes(utf8("device:ABCD-EFGH:1"), le)));
  assert.equal(generateId("device:ABCD-EFGH:1", nanos), expected);
  assert.match(generateId("x"), /^[0-9a-f]{64}$/);
});

Deno.test("id: u128le layout and range", () => {
  assert.equal(toHex(u128le(1n)), "01" + "00".repeat(15));
  assert.equal(toHex(u128le((1n << 64n) + 2n)), "02" + "00".repeat(7) + "01" + "00".repeat(7));
  assert.equal(toHex(u128le((1n << 128n) - 1n)), "ff".repeat(16));
  assert.throws(() => u128le(1n << 128n), RangeError);
  assert.throws(() => u128le(-1n), RangeError);
});

Deno.test("id: consecutive calls give distinct nanos and ids", () => {
  const before = BigInt(Date.now()) * 1_000_000n;
  const seen = new Set<bigint>();
  for (let i = 0; i < 1000; i++) seen.add(nowUnixNanos());
  assert.equal(seen.size, 1000);
  for (const t of seen) assert.ok(t >= before);
  const ids = new Set<string>();
  for (let i = 0; i < 100; i++) ids.add(generateId("same-ctx"));
  assert.equal(ids.size, 100);
});

Deno.test("id: writeUnixNanosLe writes u128le(ms × 10^6 + sub) in Number arithmetic", () => {
  const cases: [number, number][] = [
    [0, 0],
    [0, 999_999],
    [1, 0],
    [1_764_990_000_123, 456_789],
    [2 ** 32 - 1, 999_999], // the low word's carry
    [2 ** 32, 0],
    [2 ** 40 + 12_345, 1],
    [18_446_744_073_709, 551_615], // 2^64 − 1: the largest it takes
  ];
  for (const [ms, sub] of cases) {
    const out = new Uint8Array(20).fill(0);
    assert.ok(writeUnixNanosLe(out, 2, ms, sub), `${ms}, ${sub}`);
    const expected = u128le(BigInt(ms) * 1_000_000n + BigInt(sub));
    assert.deepEqual(out.subarray(2, 18), expected, `${ms}, ${sub}`);
    assert.deepEqual([...out.subarray(0, 2), ...out.subarray(18)], [0, 0, 0, 0]);
  }
  const out = new Uint8Array(16);
  for (
    const [ms, sub] of [[-1, 0], [18_446_744_073_709, 551_616], [1, 1_000_000], [1, -1], [0.5, 0]]
  ) {
    assert.equal(writeUnixNanosLe(out, 0, ms, sub), false, `${ms}, ${sub}`);
  }
  assert.deepEqual(out, new Uint8Array(16));
});

Deno.test("id: generateId(ctx) is generateId(ctx, nowUnixNanos()) of the same instant", () => {
  const realNow = Date.now;
  try {
    for (const ms of [1_764_990_000_123, 0]) {
      Date.now = () => ms;
      for (const ctx of ["dke:device-1", "user:zoë", ""]) {
        // Both draw on one counter: the id takes the value after this one.
        const before = nowUnixNanos();
        const next = before % 1_000_000n === 999_999n ? before - 999_999n : before + 1n;
        assert.equal(generateId(ctx), generateId(ctx, next), `${ms} ${ctx}`);
      }
    }
    // A clock before 1970 is refused as before (u128le's RangeError).
    Date.now = () => -5;
    assert.throws(() => generateId("x"), RangeError);
  } finally {
    Date.now = realNow;
  }
});
