import assert from "node:assert/strict";
import type { HeldCopiesMessage } from "./bus.ts";
import { BINARY_BUS_MESSAGE, decodeHeldCopies, encodeHeldCopies } from "./bus_binary.ts";
import { heldCopiesMessages } from "./remote_copies.ts";

const message: HeldCopiesMessage = {
  kind: "held-copies",
  from: "instance-a",
  copies: [
    { deviceId: "d1", envelopeId: "e1", frame: new Uint8Array([1, 2, 3]) },
    { deviceId: "dévice-ü", envelopeId: "e2", frame: new Uint8Array(0) },
  ],
  acked: [{ deviceId: "d2", envelopeId: "k-7" }],
  released: [{ deviceId: "d3", envelopeId: "k-8" }, { deviceId: "d3", envelopeId: "k-9" }],
};

Deno.test("held-copies bytes: round trip, frames as bytes, non-ASCII ids", () => {
  const bytes = encodeHeldCopies(message);
  assert.equal(bytes[0], BINARY_BUS_MESSAGE);
  // Never the first byte of a JSON message (nor of any UTF-8 text).
  assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, 1)));
  assert.deepEqual(decodeHeldCopies(bytes), message);
  const answersOnly = { ...message, copies: [] };
  assert.deepEqual(decodeHeldCopies(encodeHeldCopies(answersOnly)), answersOnly);
});

Deno.test("held-copies bytes: malformed or empty input is null, never a throw", () => {
  const bytes = encodeHeldCopies(message);
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.equal(decodeHeldCopies(bytes.subarray(0, cut)), null, `cut at ${cut}`);
  }
  assert.equal(decodeHeldCopies(new Uint8Array([...bytes, 0])), null, "trailing byte");
  assert.equal(decodeHeldCopies(new TextEncoder().encode('{"kind":"x"}')), null, "JSON");
  const empty = { ...message, copies: [], acked: [], released: [] };
  assert.equal(decodeHeldCopies(encodeHeldCopies(empty)), null, "nothing in it");
  const emptyId = { ...message, acked: [{ deviceId: "", envelopeId: "e" }] };
  assert.equal(decodeHeldCopies(encodeHeldCopies(emptyId)), null, "empty id");
  // Lengths that do not add up to the text block.
  const short = encodeHeldCopies(message);
  new DataView(short.buffer).setUint16(5 + new DataView(short.buffer).getUint32(1), 3);
  assert.equal(decodeHeldCopies(short), null, "from's length off");
  const badUtf8 = encodeHeldCopies(message);
  badUtf8[5] = 0xff;
  assert.equal(decodeHeldCopies(badUtf8), null, "malformed UTF-8");
  // A count past what a receiver accepts (the copies' count follows the text block and from's length).
  const many = encodeHeldCopies({ ...message, copies: [] });
  const view = new DataView(many.buffer);
  const copiesAt = 5 + view.getUint32(1) + 2;
  assert.equal(view.getUint32(copiesAt), 0);
  view.setUint32(copiesAt, 5000);
  assert.equal(decodeHeldCopies(many), null, "count over 4096");
});

Deno.test("held-copies messages: one per turn, cut at 256 copies and 1024 refs of a kind", () => {
  const frame = new Uint8Array(10);
  const copies = Array.from(
    { length: 300 },
    (_, i) => ({ deviceId: "d", envelopeId: `e${i}`, frame }),
  );
  const acked = Array.from({ length: 1500 }, (_, i) => ({ deviceId: "d", envelopeId: `a${i}` }));
  const small = heldCopiesMessages("x", {
    copies: copies.slice(0, 3),
    acked: acked.slice(0, 2),
    released: [],
  });
  assert.equal(small.length, 1);
  assert.deepEqual(small[0].copies.map((c) => c.envelopeId), ["e0", "e1", "e2"]);
  assert.deepEqual(small[0].acked.map((r) => r.envelopeId), ["a0", "a1"]);
  const big = heldCopiesMessages("x", { copies, acked, released: [] });
  assert.deepEqual(big.map((m) => [m.copies.length, m.acked.length]), [[256, 0], [44, 1024], [
    0,
    476,
  ]]);
  assert.deepEqual(
    big.flatMap((m) => m.copies.map((c) => c.envelopeId)),
    copies.map((c) => c.envelopeId),
  );
  assert.deepEqual(heldCopiesMessages("x", { copies: [], acked: [], released: [] }), []);
});
