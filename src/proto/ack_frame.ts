/**
 * An Ack frame whose payload is `{"ack":n` + a fixed tail, written straight
 * into a buffer being sealed: the server's owed cumulative Ack (tail
 * `,"upto":true}`) and the SDK's delivery Ack (tail `}`) — one per delivered
 * message each, so no string, TextEncoder call, frame or payload per Ack.
 * The bytes are exactly what `writeFrame` writes for the same frame.
 *
 * @module
 */
import { FrameType } from "./frame_type.ts";
import { varintLength, writeVarint } from "./varint.ts";

/** `{"ack":` */
const HEAD = [0x7b, 0x22, 0x61, 0x63, 0x6b, 0x22, 0x3a];

/** Bytes of the decimal digits of `n`, a non-negative safe integer. */
function digitCount(n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/**
 * The encoded length of the Ack frame for `upTo` (a non-negative safe
 * integer) with payload tail `tail`, sent with `sequence`.
 */
export function ackFrameLength(upTo: number, sequence: number, tail: Uint8Array): number {
  const payload = HEAD.length + digitCount(upTo) + tail.length;
  const body = 2 + varintLength(sequence) + varintLength(payload) + payload;
  return varintLength(body) + body;
}

/**
 * Writes the Ack frame for `upTo` with `sequence` and payload tail `tail`
 * into `out` at `at` (room for {@link ackFrameLength}); returns the offset
 * just past it.
 */
export function writeAckFrame(
  upTo: number,
  sequence: number,
  tail: Uint8Array,
  out: Uint8Array,
  at: number,
): number {
  const payload = HEAD.length + digitCount(upTo) + tail.length;
  let offset = writeVarint(2 + varintLength(sequence) + varintLength(payload) + payload, out, at);
  out[offset++] = FrameType.Ack;
  out[offset++] = 0; // channel 0
  offset = writeVarint(sequence, out, offset);
  offset = writeVarint(payload, out, offset);
  for (let i = 0; i < HEAD.length; i++) out[offset++] = HEAD[i];
  const end = offset + payload - HEAD.length;
  const digitsEnd = end - tail.length;
  let digit = digitsEnd;
  for (let rest = upTo; digit > offset; rest = Math.floor(rest / 10)) {
    out[--digit] = 0x30 + rest % 10;
  }
  for (let i = 0; i < tail.length; i++) out[digitsEnd + i] = tail[i];
  return end;
}
