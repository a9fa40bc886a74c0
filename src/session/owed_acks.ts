/**
 * Cumulative-Ack scheduling (Hello capability "ack-upto"): the connections
 * owing an Ack share one timer that flushes them all after the current
 * event-loop turn, so the Msgs of one burst share one Ack.
 *
 * @module
 */
import { type Frame, FrameType } from "../proto/mod.ts";

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

/**
 * The cumulative Ack `{"ack": upTo, "upto": true}` (its sequence is set when
 * it is sent). The JSON is ASCII, written byte by byte: a payload this small
 * lives on the JS heap, where TextEncoder would make a native buffer.
 */
export function cumulativeAckFrame(upTo: number): Frame {
  const body = `{"ack":${upTo},"upto":true}`;
  const payload = new Uint8Array(body.length);
  for (let i = 0; i < body.length; i++) payload[i] = body.charCodeAt(i);
  return { type: FrameType.Ack, channel: 0, sequence: 0, payload };
}
