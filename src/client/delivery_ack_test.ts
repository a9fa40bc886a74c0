import assert from "node:assert/strict";
import { encodeFrame, FrameType } from "../proto/mod.ts";
import { deliveryAckLength, writeDeliveryAck } from "./delivery_ack.ts";

Deno.test("delivery Ack: written in place, the bytes of its frame encoded, for every digit and sequence size", () => {
  for (const upTo of [0, 1, 9, 10, 99, 100, 65_535, 1_000_000, 4_294_967_295, 2 ** 53 - 1]) {
    for (const sequence of [0, 1, 127, 128, 16_384, 4_294_967_295]) {
      const expected = encodeFrame({
        type: FrameType.Ack,
        channel: 0,
        sequence,
        payload: new TextEncoder().encode(`{"ack":${upTo}}`),
      });
      assert.equal(deliveryAckLength(upTo, sequence), expected.length);
      const out = new Uint8Array(expected.length + 3).fill(0xee);
      assert.equal(writeDeliveryAck(upTo, sequence, out, 2), 2 + expected.length);
      assert.deepEqual(out.subarray(2, 2 + expected.length), expected, `${upTo} ${sequence}`);
      assert.equal(out[2 + expected.length], 0xee);
    }
  }
});
