import assert from "node:assert/strict";
import { ReachCache } from "./reach_cache.ts";

Deno.test("reach cache: a pair added is known until its time runs out, then forgotten", () => {
  let now = 1_000;
  const cache = new ReachCache({ ttlMs: 100, now: () => now });
  assert.equal(cache.has("u1", "d1"), false);
  cache.add("u1", "d1");
  assert.equal(cache.has("u1", "d1"), true);
  assert.equal(cache.has("u1", "d2"), false, "another device of the same user");
  assert.equal(cache.has("u2", "d1"), false, "another user to the same device");
  now += 99;
  assert.equal(cache.has("u1", "d1"), true);
  now += 1;
  assert.equal(cache.has("u1", "d1"), false);
  assert.equal(cache.size, 0, "an expired pair looked up is dropped");
});

Deno.test("reach cache: adding again renews the time; clear forgets every pair", () => {
  let now = 0;
  const cache = new ReachCache({ ttlMs: 100, now: () => now });
  cache.add("u1", "d1");
  cache.add("u1", "d2");
  now = 80;
  cache.add("u1", "d1");
  assert.equal(cache.size, 2);
  now = 150;
  assert.equal(cache.has("u1", "d1"), true);
  assert.equal(cache.has("u1", "d2"), false);
  cache.clear();
  assert.equal(cache.has("u1", "d1"), false);
  assert.equal(cache.size, 0);
});

Deno.test("reach cache: a pair whose parts join alike is not another's (no key collision)", () => {
  const cache = new ReachCache();
  cache.add("a\u0000b", "c");
  assert.equal(cache.has("a", "b\u0000c"), false);
  assert.equal(cache.has("a\u0000b", "c"), true);
});

Deno.test("reach cache: over its bound the oldest entry of the least recently added user goes", () => {
  const cache = new ReachCache({ max: 3 });
  cache.add("u1", "d1");
  cache.add("u1", "d2");
  cache.add("u2", "d3");
  cache.add("u1", "d4"); // u1 is the newest user now: u2's pair is the oldest
  assert.equal(cache.size, 3);
  assert.equal(cache.has("u2", "d3"), false);
  cache.add("u3", "d5"); // u1's oldest device goes
  assert.equal(cache.size, 3);
  assert.equal(cache.has("u1", "d1"), false);
  assert.deepEqual(
    [cache.has("u1", "d2"), cache.has("u1", "d4"), cache.has("u3", "d5")],
    [true, true, true],
  );
});
