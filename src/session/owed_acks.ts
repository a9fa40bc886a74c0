/**
 * Cumulative-Ack scheduling (Hello capability "ack-upto"): the connections
 * owing an Ack share one timer that flushes them all after the current
 * event-loop turn, so the Msgs of one burst share one Ack.
 *
 * @module
 */
import { encodeFrame, FrameType } from "../proto/mod.ts";

const utf8Encoder = new TextEncoder();

/** The senders of owed Acks, one per connection, due after this turn. */
let owing = new Set<() => void>();
let owingTimer: ReturnType<typeof setTimeout> | undefined;

function flushOwing(): void {
  owingTimer = undefined;
  const due = owing;
  owing = new Set();
  for (const send of due) send();
}

/** Calls `sendOwedAck` after the current turn (once, however often it is scheduled). */
export function sendAfterThisTurn(sendOwedAck: () => void): void {
  owing.add(sendOwedAck);
  owingTimer ??= setTimeout(flushOwing, 0);
}

/** The encoded cumulative Ack `{"ack": upTo, "upto": true}` with server sequence `sequence`. */
export function encodeCumulativeAck(upTo: number, sequence: number): Uint8Array {
  const body = `{"ack":${upTo},"upto":true}`;
  return encodeFrame({
    type: FrameType.Ack,
    channel: 0,
    sequence,
    payload: utf8Encoder.encode(body),
  });
}
