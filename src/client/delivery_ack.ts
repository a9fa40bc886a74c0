/**
 * The SDK's delivery Ack `{"ack":n}` written straight into the message it
 * rides in: no string, no TextEncoder call (a runtime op) and no frame or
 * payload per Ack — one per delivered message at the load tool's rates.
 *
 * @module
 */
import { type Frame, FrameType, varintLength, writeVarint } from "../proto/mod.ts";

/** Stands for the delivery Ack among the frames a message is sealed from (never encoded as itself). */
export const DELIVERY_ACK: Frame = Object.freeze({
  type: FrameType.Ack,
  channel: 0,
  sequence: 0,
  payload: new Uint8Array(0),
});

/** `{"ack":` */
const HEAD = [0x7b, 0x22, 0x61, 0x63, 0x6b, 0x22, 0x3a];

function payloadLength(upTo: number): number {
  let digits = 1;
  for (let rest = upTo; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return HEAD.length + digits + 1;
}

/**
 * The encoded length of the delivery Ack for `upTo` (a server sequence: a
 * non-negative safe integer) sent with `sequence`: `encodedFrameLength` of
 * its frame.
 */
export function deliveryAckLength(upTo: number, sequence: number): number {
  const payload = payloadLength(upTo);
  const body = 2 + varintLength(sequence) + varintLength(payload) + payload;
  return varintLength(body) + body;
}

/**
 * Writes the delivery Ack for `upTo` with `sequence` into `out` at `at` (room
 * for {@link deliveryAckLength}): the bytes `writeFrame` writes for the Ack
 * frame with payload `{"ack":upTo}`. Returns the offset just past it.
 */
export function writeDeliveryAck(
  upTo: number,
  sequence: number,
  out: Uint8Array,
  at: number,
): number {
  const payload = payloadLength(upTo);
  let offset = writeVarint(2 + varintLength(sequence) + varintLength(payload) + payload, out, at);
  out[offset++] = FrameType.Ack;
  out[offset++] = 0; // channel 0
  offset = writeVarint(sequence, out, offset);
  offset = writeVarint(payload, out, offset);
  for (let i = 0; i < HEAD.length; i++) out[offset++] = HEAD[i];
  const end = offset + payload - HEAD.length;
  out[end - 1] = 0x7d; // }
  let digit = end - 1;
  for (let rest = upTo; digit > offset; rest = Math.floor(rest / 10)) {
    out[--digit] = 0x30 + rest % 10;
  }
  return end;
}
