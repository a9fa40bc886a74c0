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
  assert.deepEqual(gate.stats(), { inFlight: 2, admitted: 3, denied: 2 });
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
  assert.deepEqual(gate.stats(), { inFlight: 2, admitted: 3, denied: 1 });
});
