/**
 * Cumulative-Ack scheduling (Hello capability "ack-upto"): the connections
 * owing an Ack share one timer that flushes them all after the current
 * event-loop turn, so the Msgs of one burst share one Ack.
 *
 * @module
 */
import { ackFrameLength, type Frame, FrameType, writeAckFrame } from "../proto/mod.ts";

/**
 * The one flush timer of the connections a server runs (see {@link SessionRuntime}).
 *
 * Why a 0 ms timer and not a microtask at the end of the turn: an owed Ack
 * that waits for the timer (≥ 1 ms, the next turn or later) rides along with
 * any frame sent to its client meanwhile (`Outbound.sendEncrypted` adds it
 * first) and covers the requests of every turn in between. At the 1:1 max
 * rate both partners receive continuously, so nearly every Ack rides along
 * with a delivery; a microtask flush would write it alone whenever the
 * partner's message was not read in the same turn — a seal and a write
 * more per turn and connection. What the timer costs (a Node-compat
 * `Timeout` set and fired per turn that owes, ~4 µs) is paid at the paced
 * rates, where Acks rarely meet a delivery within the delay. An alternated
 * A/B at the p99-at-50% phase (`bench load --scenario pairs --accept
 * direct --tls-baseline`, 4 runs each, 2026-12-06) did not separate the
 * two: p99 47–113 ms with the timer, 56–159 ms with a microtask, the floor's
 * own p99 56–174 ms, every run contended (run-queue wait 500–790 ms/s); so
 * the flush keeps the timer, which is not worse at 50% and writes fewer
 * messages at max.
 */
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
    // forEach with a shared callback: `for…of` made a Set iterator per flush.
    due.forEach(callSend);
  };
}

function callSend(send: () => void): void {
  send();
}

/** `{"ack":` and `,"upto":true}`: the cumulative Ack around its digits. */
const ACK_HEAD = ascii('{"ack":');
const ACK_TAIL = ascii(',"upto":true}');
/** Bytes of one payload slab: ~170 Acks of 10-digit sequences. */
const SLAB_BYTES = 4096;

/**
 * Where cumulative Ack payloads are written: each Ack takes the next bytes of
 * the slab and a full slab is replaced by a new one, never reused, so a
 * payload stays intact however long its frame is held (an Ack's frame is
 * encoded at the end of its turn). A native buffer per Ack, its text built
 * as a string first, cost ~4× this. Module-level like the outbound's write
 * scratch: a cache of bytes, not state anyone reads.
 */
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/**
 * The cumulative Ack `{"ack": upTo, "upto": true}` (its sequence is set when
 * it is sent). `upTo` is a frame sequence: a positive safe integer.
 */
export function cumulativeAckFrame(upTo: number): Frame {
  const length = ackPayloadLength(upTo);
  if (slabUsed + length > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const start = slabUsed;
  slabUsed = writeAckPayload(upTo, slab, start);
  return { type: FrameType.Ack, channel: 0, sequence: 0, payload: slab.subarray(start, slabUsed) };
}

/**
 * The encoded length of the cumulative Ack for `upTo` sent with `sequence`
 * (as `encodedFrameLength` of its {@link cumulativeAckFrame}).
 */
export function cumulativeAckLength(upTo: number, sequence: number): number {
  return ackFrameLength(upTo, sequence, ACK_TAIL);
}

/**
 * Writes the cumulative Ack for `upTo` with `sequence` into `out` at `at`
 * (room for {@link cumulativeAckLength}), the bytes `writeFrame` writes for
 * its {@link cumulativeAckFrame}; returns the offset just past it. A
 * sender that encodes frames into the buffer it seals needs no frame
 * object and no payload bytes of its own per Ack.
 */
export function writeCumulativeAck(
  upTo: number,
  sequence: number,
  out: Uint8Array,
  at: number,
): number {
  return writeAckFrame(upTo, sequence, ACK_TAIL, out, at);
}

function ackPayloadLength(upTo: number): number {
  let digits = 1;
  for (let rest = upTo; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return ACK_HEAD.length + digits + ACK_TAIL.length;
}

/** Writes the payload for `upTo` at `start`; returns the offset just past it. */
function writeAckPayload(upTo: number, out: Uint8Array, start: number): number {
  const end = start + ackPayloadLength(upTo);
  out.set(ACK_HEAD, start);
  const digitsEnd = end - ACK_TAIL.length;
  let at = digitsEnd;
  for (let rest = upTo; at > start + ACK_HEAD.length; rest = Math.floor(rest / 10)) {
    out[--at] = 0x30 + rest % 10;
  }
  out.set(ACK_TAIL, digitsEnd);
  return end;
}

function ascii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
