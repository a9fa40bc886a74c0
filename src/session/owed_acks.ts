/**
 * Cumulative-Ack scheduling (Hello capability "ack-upto"): the connections
 * owing an Ack share one timer that flushes them all after the current
 * event-loop turn, so the Msgs of one burst share one Ack.
 *
 * @module
 */
import { encodeFrame, FrameType } from "../proto/mod.ts";

const utf8Encoder = new TextEncoder();

/** The one flush timer of the connections a server runs (see {@link SessionRuntime}). */
export class OwedAckScheduler {
  /** The senders of owed Acks, one per connection, due after this turn. */
  #owing = new Set<() => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Calls `sendOwedAck` after the current turn (once, however often it is scheduled). */
  sendAfterThisTurn(sendOwedAck: () => void): void {
    this.#owing.add(sendOwedAck);
    this.#timer ??= setTimeout(this.#flush, 0);
  }

  /** Drops what is scheduled (server stop: the connections are closing anyway). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#owing = new Set();
  }

  #flush = (): void => {
    this.#timer = undefined;
    const due = this.#owing;
    this.#owing = new Set();
    for (const send of due) send();
  };
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
