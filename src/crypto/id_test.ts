import assert from "node:assert/strict";
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, toHex, utf8 } from "./bytes.ts";
import { generateId, nowUnixNanos, u128le } from "./id.ts";

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
