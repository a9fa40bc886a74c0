import assert from "node:assert/strict";
import { ackFrameLength, writeAckFrame } from "./ack_frame.ts";
import { encodeFrame } from "./frame.ts";
import { FrameType } from "./frame_type.ts";

const encoder = new TextEncoder();

Deno.test("ack frame: the bytes and length writeFrame gives the same Ack, for each tail", () => {
  for (const tail of ["}", ',"upto":true}']) {
    const tailBytes = encoder.encode(tail);
    for (const upTo of [0, 9, 10, 99, 12_345, 4_294_967_295, Number.MAX_SAFE_INTEGER]) {
      for (const sequence of [0, 127, 128, 16_384, 4_294_967_295]) {
        const expected = encodeFrame({
          type: FrameType.Ack,
          channel: 0,
          sequence,
          payload: encoder.encode(`{"ack":${upTo}${tail}`),
        });
        assert.equal(ackFrameLength(upTo, sequence, tailBytes), expected.length);
        const out = new Uint8Array(expected.length + 4).fill(0xee);
        assert.equal(writeAckFrame(upTo, sequence, tailBytes, out, 2), 2 + expected.length);
        assert.deepEqual(out.subarray(2, 2 + expected.length), expected);
        assert.equal(out[1], 0xee);
        assert.equal(out[2 + expected.length], 0xee);
      }
    }
  }
});
