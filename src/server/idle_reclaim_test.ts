import assert from "node:assert/strict";
import {
  IDLE_RECLAIM_MIN_HANDSHAKES,
  IdleReclaim,
  memoryReducingCollection,
} from "./idle_reclaim.ts";

function totals() {
  return { handshakesOk: 0, handshakesFailed: 0, framesIn: 0, framesOut: 0 };
}

Deno.test("idle reclaim: collects at the first quiet interval after enough handshakes, once", () => {
  const t = totals();
  let collected = 0;
  const reclaim = new IdleReclaim(t, () => collected++);
  t.handshakesOk = IDLE_RECLAIM_MIN_HANDSHAKES - 1;
  assert.equal(reclaim.tick(), false, "handshakes in this interval: not quiet");
  assert.equal(reclaim.tick(), false, "quiet, but too few handshakes");
  t.handshakesFailed = 1; // failed handshakes leave garbage too
  assert.equal(reclaim.tick(), false, "the burst is still going");
  assert.equal(reclaim.tick(), true, "first quiet interval after the burst");
  assert.equal(collected, 1);
  assert.equal(reclaim.tick(), false, "nothing new since the reclaim");
  assert.equal(collected, 1);
  assert.equal(reclaim.reclaims, 1);
});

Deno.test("idle reclaim: never under traffic; waits for a quiet interval", () => {
  const t = totals();
  let collected = 0;
  const reclaim = new IdleReclaim(t, () => collected++);
  t.handshakesOk = 2 * IDLE_RECLAIM_MIN_HANDSHAKES;
  reclaim.tick();
  for (let i = 0; i < 5; i++) {
    t.framesIn += 10;
    assert.equal(reclaim.tick(), false, "frames flowing");
  }
  t.framesOut += 1;
  assert.equal(reclaim.tick(), false);
  assert.equal(reclaim.tick(), true, "traffic stopped");
  assert.equal(collected, 1);
});

Deno.test("idle reclaim: counts from the totals it started with", () => {
  const t = totals();
  t.handshakesOk = 10 * IDLE_RECLAIM_MIN_HANDSHAKES; // before this server's reclaim existed
  let collected = 0;
  const reclaim = new IdleReclaim(t, () => collected++);
  assert.equal(reclaim.tick(), false);
  assert.equal(collected, 0);
});

Deno.test("idle reclaim: the memory-reducing collection is available and runs", () => {
  const collect = memoryReducingCollection();
  assert.equal(typeof collect, "function");
  collect!();
});
