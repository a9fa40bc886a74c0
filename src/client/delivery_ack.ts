/**
 * The SDK's delivery Ack `{"ack":n}` written straight into the message it
 * rides in: no string, no TextEncoder call (a runtime op) and no frame or
 * payload per Ack — one per delivered message at the load tool's rates.
 *
 * @module
 */
import { ackFrameLength, type Frame, FrameType, writeAckFrame } from "../proto/mod.ts";

/** Stands for the delivery Ack among the frames a message is sealed from (never encoded as itself). */
export const DELIVERY_ACK: Frame = Object.freeze({
  type: FrameType.Ack,
  channel: 0,
  sequence: 0,
  payload: new Uint8Array(0),
});

/** `}`: the delivery Ack's payload ends right after its digits. */
const TAIL = new Uint8Array([0x7d]);

/**
 * The encoded length of the delivery Ack for `upTo` (a server sequence: a
 * non-negative safe integer) sent with `sequence`: `encodedFrameLength` of
 * its frame.
 */
export function deliveryAckLength(upTo: number, sequence: number): number {
  return ackFrameLength(upTo, sequence, TAIL);
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
  return writeAckFrame(upTo, sequence, TAIL, out, at);
}
