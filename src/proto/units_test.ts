import assert from "node:assert/strict";
import { encodeUnit, UnitDecoder } from "./units.ts";

function units(count: number): Uint8Array[] {
  return Array.from(
    { length: count },
    (_, i) => crypto.getRandomValues(new Uint8Array(1 + i * 37)),
  );
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

Deno.test("UnitDecoder returns the same units whatever the chunking", () => {
  const bodies = units(40);
  const stream = concatAll(bodies.map(encodeUnit));
  for (const size of [1, 2, 3, 7, 64, 200, 1000, stream.length]) {
    const decoder = new UnitDecoder();
    const out: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += size) {
      out.push(...decoder.push(stream.slice(i, i + size)));
    }
    assert.deepEqual(out, bodies, `chunks of ${size}`);
    assert.equal(decoder.buffered, 0);
  }
});

Deno.test("UnitDecoder buffers only a trailing partial unit and rejects bad lengths", () => {
  const [a, b] = units(2).map(encodeUnit);
  const decoder = new UnitDecoder();
  const both = concatAll([a, b]);
  assert.deepEqual(decoder.push(both.subarray(0, a.length + 1)), [a.subarray(1)]);
  assert.equal(decoder.buffered, 1);
  assert.equal(decoder.push(both.subarray(a.length + 1)).length, 1);
  assert.equal(decoder.buffered, 0);
  assert.throws(() => new UnitDecoder().push(new Uint8Array([0])), { kind: "EmptyFrame" });
  assert.throws(
    () => new UnitDecoder().push(new Uint8Array([0x80, 0x80, 0x04])),
    { kind: "FrameTooLarge" },
  );
});

Deno.test("UnitDecoder.pushEach hands out what push returns, whatever the chunking", () => {
  const bodies = units(40);
  const stream = concatAll(bodies.map(encodeUnit));
  for (const size of [1, 3, 64, 1000, stream.length]) {
    const decoder = new UnitDecoder();
    const out: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += size) {
      decoder.pushEach(stream.slice(i, i + size), (unit) => out.push(unit));
    }
    assert.deepEqual(out, bodies, `chunks of ${size}`);
    assert.equal(decoder.buffered, 0);
  }
});

Deno.test("UnitDecoder.pushEach: units before a bad length are handled, then it throws", () => {
  const [a] = units(1).map(encodeUnit);
  const out: Uint8Array[] = [];
  assert.throws(
    () => new UnitDecoder().pushEach(concatAll([a, new Uint8Array([0])]), (u) => out.push(u)),
    { kind: "EmptyFrame" },
  );
  assert.deepEqual(out, [a.subarray(1)]);
});
