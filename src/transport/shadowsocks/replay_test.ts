import assert from "node:assert/strict";
import { SaltFilter } from "./replay.ts";

Deno.test("the salt filter refuses a salt seen before and stays bounded", () => {
  const filter = new SaltFilter(3);
  const salt = (n: number) => new Uint8Array(32).fill(n);
  assert.ok(filter.add(salt(1)));
  assert.equal(filter.add(salt(1)), false);
  for (const n of [2, 3, 4]) assert.ok(filter.add(salt(n)));
  assert.equal(filter.size, 3);
  // The oldest was forgotten; the recent ones are still refused.
  assert.ok(filter.add(salt(1)));
  assert.equal(filter.add(salt(4)), false);
});
