import assert from "node:assert/strict";
import { encodeFrame, FrameType } from "../proto/mod.ts";
import { cumulativeAckFrame, cumulativeAckLength, writeCumulativeAck } from "./owed_acks.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("cumulative Ack: the payload is the JSON of {ack, upto} for every digit count", () => {
  for (const upTo of [1, 9, 10, 99, 100, 65_535, 1_000_000, 4_294_967_295]) {
    const frame = cumulativeAckFrame(upTo);
    assert.equal(frame.type, FrameType.Ack);
    assert.equal(frame.channel, 0);
    assert.equal(text(frame.payload), JSON.stringify({ ack: upTo, upto: true }));
  }
});

Deno.test("cumulative Ack: a payload stays intact while later Acks fill and replace the slab", () => {
  const held = Array.from({ length: 2_000 }, (_, i) => ({
    upTo: (i * 7_919) % 4_294_967_295 + 1,
    frame: cumulativeAckFrame((i * 7_919) % 4_294_967_295 + 1),
  }));
  for (const { upTo, frame } of held) {
    assert.deepEqual(JSON.parse(text(frame.payload)), { ack: upTo, upto: true });
  }
});

Deno.test("cumulative Ack: written in place, the same bytes as its frame encoded, for every digit and sequence size", () => {
  for (const upTo of [1, 9, 10, 99, 100, 65_535, 1_000_000, 4_294_967_295]) {
    for (const sequence of [1, 127, 128, 16_384, 4_294_967_295]) {
      const expected = encodeFrame({ ...cumulativeAckFrame(upTo), sequence });
      assert.equal(cumulativeAckLength(upTo, sequence), expected.length);
      const out = new Uint8Array(expected.length + 3).fill(0xee);
      assert.equal(writeCumulativeAck(upTo, sequence, out, 2), 2 + expected.length);
      assert.deepEqual(out.subarray(2, 2 + expected.length), expected);
      assert.equal(out[2 + expected.length], 0xee);
    }
  }
});
