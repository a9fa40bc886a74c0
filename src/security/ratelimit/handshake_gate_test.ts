import assert from "node:assert/strict";
import { HandshakeGate } from "./handshake_gate.ts";

Deno.test("handshake gate: refuses past the cap and admits again after a release", () => {
  const gate = new HandshakeGate(2);
  const a = gate.tryEnter();
  const b = gate.tryEnter();
  assert.ok(a && b);
  assert.equal(gate.tryEnter(), null, "full: refused at once");
  assert.equal(gate.inFlight, 2);
  a();
  const c = gate.tryEnter();
  assert.ok(c, "a slot was freed");
  assert.equal(gate.tryEnter(), null);
  assert.deepEqual(gate.stats(), { inFlight: 2, admitted: 3, denied: 2, hybridDenied: 0 });
});

Deno.test("handshake gate: a double release frees one slot only", () => {
  const gate = new HandshakeGate(1);
  const a = gate.tryEnter()!;
  a();
  a();
  assert.equal(gate.inFlight, 0);
  const b = gate.tryEnter();
  assert.ok(b);
  a(); // a stale release must not free b's slot
  assert.equal(gate.inFlight, 1);
  assert.equal(gate.tryEnter(), null);
});

Deno.test("handshake gate: a bad cap is a RangeError", () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => new HandshakeGate(bad), RangeError);
  }
});

Deno.test("handshake gate: slots held by connection id, left idempotently", () => {
  const gate = new HandshakeGate(2);
  assert.equal(gate.enter("c1"), true);
  assert.equal(gate.enter("c1"), true, "the same id keeps its one slot");
  assert.equal(gate.inFlight, 1);
  assert.equal(gate.enter("c2"), true);
  assert.equal(gate.enter("c3"), false, "full");
  gate.leave("c1"); // handshake result
  gate.leave("c1"); // then the close event: harmless
  gate.leave("unknown");
  assert.equal(gate.inFlight, 1);
  assert.equal(gate.enter("c3"), true);
  assert.deepEqual(gate.stats(), { inFlight: 2, admitted: 3, denied: 1, hybridDenied: 0 });
});

Deno.test("handshake gate: hybrid Hellos get at most their CPU share; classical ones are not charged", () => {
  const clock = { t: 0 };
  const gate = new HandshakeGate(1000, { hybridCpuShare: 0.25, now: () => clock.t });
  // A flood of hybrid replies costing 5 ms each, arriving every millisecond for 10 s.
  let served = 0;
  for (let i = 0; i < 10_000; i++) {
    clock.t = i;
    if (gate.admitHybrid(5)) served++;
  }
  const cpuMs = served * 5;
  // 25 % of 10 s = 2.5 s of work, plus at most the 250 ms burst and one reply of overdraft.
  assert.ok(cpuMs <= 2_500 + 250 + 5, `served ${cpuMs} ms of hybrid work`);
  assert.ok(cpuMs >= 2_400, `the budget is usable (${cpuMs} ms)`);
  assert.equal(gate.stats().hybridDenied, 10_000 - served);
  // Classical handshakes only take the in-flight slots.
  assert.ok(gate.tryEnter());
  // After an idle second the budget has credit again.
  clock.t += 1_000;
  assert.ok(gate.admitHybrid(5));
});

Deno.test("handshake gate: the hybrid share must be in (0, 1]", () => {
  assert.throws(() => new HandshakeGate(1, { hybridCpuShare: 0 }), RangeError);
  assert.throws(() => new HandshakeGate(1, { hybridCpuShare: 1.5 }), RangeError);
});
