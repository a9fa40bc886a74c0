import assert from "node:assert/strict";
import { ReplayCache, replayKey } from "./replay.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("replay cache: a message is fresh once, a replay within the window, fresh after it", () => {
  let now = 0;
  const cache = new ReplayCache(1000, 10, () => now);
  assert.equal(cache.check(bytes("m1")), "fresh");
  now = 999;
  assert.equal(cache.check(bytes("m1")), "replay");
  now = 1000;
  assert.equal(cache.check(bytes("m1")), "fresh");
});

Deno.test("replay cache: full of live entries it refuses instead of evicting one", () => {
  let now = 0;
  const cache = new ReplayCache(1000, 3, () => now);
  for (const m of ["a", "b", "c"]) assert.equal(cache.check(bytes(m)), "fresh");
  now = 500;
  assert.equal(cache.check(bytes("d")), "full");
  assert.equal(cache.check(bytes("e")), "full");
  assert.equal(cache.refusedFull, 2);
  // Every earlier message is still a replay: nothing inside its window was forgotten.
  for (const m of ["a", "b", "c"]) assert.equal(cache.check(bytes(m)), "replay", m);
  // Once the oldest expire, room comes back.
  now = 1000;
  assert.equal(cache.check(bytes("d")), "fresh");
  assert.equal(cache.size, 1);
});

Deno.test("replay cache: entries are fixed-size digests, whatever the message size", () => {
  const cache = new ReplayCache(60_000, 10);
  const big = new Uint8Array(64 * 1024).fill(7);
  assert.equal(cache.check(big), "fresh");
  assert.equal(cache.check(big.slice()), "replay");
  const other = big.slice();
  other[other.length - 1] ^= 1;
  assert.equal(cache.check(other), "fresh");
  // What the cache holds per message: 24 characters for 64 KiB as for 1 byte.
  assert.equal(replayKey(big).length, 24);
  assert.equal(replayKey(bytes("x")).length, 24);
});
