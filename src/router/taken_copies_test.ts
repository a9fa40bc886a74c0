import assert from "node:assert/strict";
import { KeptIds } from "./kept_ids.ts";
import { TakenCopies } from "./taken_copies.ts";

Deno.test("taken copies: found again by envelope id, with their origin and device, in any order", () => {
  const [a, b] = [new KeptIds(), new KeptIds()];
  const taken = new TakenCopies();
  const ids = [a.next(), b.next(), a.next(), a.next(), b.next()];
  ids.forEach((id, i) => taken.add(i === 1 || i === 4 ? "b" : "a", id, `d${i}`));
  assert.equal(taken.size, 5);
  for (const i of [2, 4, 0, 3, 1]) {
    assert.deepEqual({ ...taken.take(ids[i])! }, {
      origin: i === 1 || i === 4 ? "b" : "a",
      deviceId: `d${i}`,
    });
  }
  assert.equal(taken.size, 0);
  assert.equal(taken.take(ids[0]), null, "taken once");
});

Deno.test("taken copies: ids in other forms, out of order or unknown", () => {
  const ids = new KeptIds();
  const taken = new TakenCopies();
  const [first, second] = [ids.next(), ids.next()];
  taken.add("a", second, "d2");
  taken.add("a", first, "d1"); // a lower counter after a higher one: held by the id
  taken.add("a", "row-0001", "d3"); // a leading zero: not a counter
  taken.add("c", "no-dash-at-the-end-", "d4");
  taken.add("c", "plain", "d5");
  assert.equal(taken.take(`${ids.prefix}zz`), null);
  assert.equal(taken.take("row-1"), null, "not the same id as row-0001");
  assert.equal(taken.take("unknown"), null);
  assert.equal(taken.take(first)?.deviceId, "d1");
  assert.equal(taken.take(second)?.deviceId, "d2");
  assert.equal(taken.take("row-0001")?.deviceId, "d3");
  assert.deepEqual({ ...taken.take("no-dash-at-the-end-")! }, { origin: "c", deviceId: "d4" });
  assert.equal(taken.take("plain")?.deviceId, "d5");
  assert.equal(taken.size, 0);
});

Deno.test("taken copies: many origins (restarted ones) come and go, each answered as its own", () => {
  const taken = new TakenCopies();
  for (let i = 0; i < 20; i++) {
    const id = new KeptIds().next();
    taken.add(`i${i}`, id, "d");
    assert.equal(taken.take(id)?.origin, `i${i}`);
  }
  assert.equal(taken.size, 0);
});
