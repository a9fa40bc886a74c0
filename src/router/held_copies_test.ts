import assert from "node:assert/strict";
import { HeldCopies } from "./held_copies.ts";

Deno.test("held copies: kept order, taken by counter or by name, each once", () => {
  const held = new HeldCopies<string>();
  held.push(1, "c1");
  held.push("foreign", "f");
  held.push(2, "c2");
  held.push(5, "c5");
  assert.equal(held.size, 4);
  assert.equal(held.take(2), "c2");
  assert.equal(held.take(2), undefined, "once");
  assert.equal(held.take(3), undefined, "a counter never held");
  assert.equal(held.take(1), "c1");
  assert.equal(held.oldest(), "f", "the front skips what was taken");
  assert.equal(held.take("other"), undefined);
  assert.equal(held.take("foreign"), "f");
  assert.equal(held.oldest(), "c5");
  assert.equal(held.shift(), "c5");
  assert.equal(held.size, 0);
  assert.equal(held.oldest(), undefined);
  assert.equal(held.shift(), undefined);
});

Deno.test("held copies: a string-keyed copy after a counter does not hide it", () => {
  const held = new HeldCopies<string>();
  held.push(7, "c7");
  held.push("a", "a");
  held.push("b", "b");
  assert.equal(held.take("b"), "b");
  assert.equal(held.take(7), "c7");
  assert.deepEqual(held.takeAll(), ["a"]);
  assert.equal(held.size, 0);
});

Deno.test("held copies: counters must grow", () => {
  const held = new HeldCopies<string>();
  held.push(3, "c3");
  assert.throws(() => held.push(3, "again"), RangeError);
  assert.throws(() => held.push(2, "older"), RangeError);
});

Deno.test("held copies: under churn (compactions included) every copy is found until taken", () => {
  const held = new HeldCopies<number>();
  const live = new Set<number>();
  let next = 1;
  // Keep ~300 held while 20,000 go through, taken out of order (an Ack is late now and then).
  for (let round = 0; round < 20_000; round++) {
    held.push(next, next);
    live.add(next);
    next++;
    if (live.size > 300) {
      const victim = round % 7 === 0 ? Math.max(...live) - 3 : Math.min(...live);
      if (live.has(victim)) {
        assert.equal(held.take(victim), victim);
        live.delete(victim);
      } else {
        assert.equal(held.take(victim), undefined);
        assert.equal(held.shift(), Math.min(...live));
        live.delete(Math.min(...live));
      }
    }
    assert.equal(held.size, live.size);
  }
  assert.equal(held.oldest(), Math.min(...live));
  assert.deepEqual(held.takeAll(), [...live].sort((a, b) => a - b));
});
