/**
 * The server → client side of one connection: server sequence numbers,
 * plaintext frames during the handshake, batched Noise messages after it,
 * the owed cumulative Ack that rides with the next frames, and the outbound
 * bound every frame counts against (deliveries, Acks and Errors alike: a
 * client that does not read cannot make the server buffer replies).
 *
 * **Batching** (PROTOCOL.md §2 "Batching"). Encrypted frames are collected
 * while the current microtask checkpoint runs (everything the event loop
 * delivered in one turn: several clients' messages, a store write's
 * completions) and written once per turn: the frames go into as few Noise
 * messages as fit ({@link MAX_BATCH_PLAINTEXT} bytes of plaintext each), and
 * on a WebSocket or binary link those units go out in one write of at most
 * {@link MAX_BATCH_WRITE} bytes. Nothing waits for a timer, so batching adds
 * no latency: a frame goes out at the end of the callback that made it.
 *
 * **No buffer per frame.** Frames are kept as they are (checked, with their
 * sequence) until their Noise message is sealed; then they are encoded
 * straight into the buffer that is written, behind the unit's length prefix,
 * and encrypted there in place. On a link that copies what it is given (a
 * WebSocket) that buffer is one scratch shared by every connection, so a
 * turn's write allocates nothing; otherwise one buffer per write.
 *
 * @module
 */
import type { NoiseTransport } from "../crypto/mod.ts";
import { AEAD_AREA_AT, aeadArea, aeadAreaView } from "../crypto/aead_area.ts";
import {
  encodedFrameLength,
  encodeFrame,
  type Frame,
  FrameType,
  frameTypeLabel,
  paddedLength,
  type PaddingPolicy,
  varintLength,
  writeFrame,
  writeVarint,
} from "../proto/mod.ts";
import type { Link } from "../transport/mod.ts";
import { cumulativeAckLength, writeCumulativeAck } from "./owed_acks.ts";

/** The Noise tag every sealed message carries. */
const TAG_LENGTH = 16;
/**
 * The write buffer of links that copy on send, shared by all connections:
 * a write is built and handed over synchronously, so no two overlap.
 */
let scratch = new Uint8Array(0);

/** Largest plaintext of one server Noise message (65535 − the 16-byte tag). */
export const MAX_BATCH_PLAINTEXT = 65519;
/**
 * Largest write (units joined) on a link that takes several units per write
 * (WebSocket message, binary stream): a larger turn is written in pieces.
 */
export const MAX_BATCH_WRITE = 256 * 1024;

/** What the outbound side reports to. */
export interface OutboundHooks {
  /** A frame went out (metrics). */
  frameOut?(type: number): void;
  /**
   * A write carried `deliveries` live deliveries, the oldest read from its
   * sender `seconds` ago (metrics: `commucat_route_delay_seconds`).
   */
  routeDelay?(seconds: number, deliveries: number): void;
}

/**
 * The empty batch, shared (frozen: a push would throw): an idle session held
 * three empty arrays of its own, replaced after every write anyway.
 */
const NONE: never[] = Object.freeze([]) as never[];

/**
 * Emptied batch arrays, for the next batch of any connection (module-level
 * like {@link scratch}: storage, not state anyone reads). A batch lives for
 * one turn; a new array's first push reserved 17 slots each turn (~0.2 KiB
 * per batch for the frames and their sequences), and an idle session holds
 * none.
 */
const spareFrames: Frame[][] = [];
const spareSequences: number[][] = [];
/** Arrays kept at most (per kind), and the longest batch whose arrays are kept. */
const MAX_SPARE_ARRAYS = 256;
const MAX_SPARE_LENGTH = 64;

/** Empties `array` (keeping its backing store: `length = 0` would drop it) into `spares`. */
function spare<T>(spares: T[][], array: T[]): void {
  // (Never the shared empty NONE: frozen, and a push to it would throw.)
  if (array.length === 0 || array.length > MAX_SPARE_LENGTH) return;
  if (spares.length >= MAX_SPARE_ARRAYS) return;
  while (array.length > 0) array.pop();
  spares.push(array);
}

/** Stands for an owed cumulative Ack in a batch's frames (never encoded as itself). */
const OWED_ACK: Frame = Object.freeze({
  type: FrameType.Ack,
  channel: 0,
  sequence: 0,
  payload: new Uint8Array(0),
});

/** Sequencing and encryption of everything the server sends on one link. */
export class Outbound {
  /** The connection's link, or its multipath session's paths once they open ({@link relink}). */
  #link: Link;
  readonly #maxBacklogBytes: number;
  readonly #hooks: OutboundHooks;
  /** Links whose write may carry several units (one WebSocket message, a byte stream). */
  readonly #joinUnits: boolean;
  #transport: NoiseTransport | null = null;
  /** Set when the session negotiated `pad1` (PROTOCOL.md §2 "Padding"). */
  #padding: PaddingPolicy | null = null;
  #sequence = 0;
  /** Highest client sequence routed but not acknowledged yet (cumulative mode), else 0. */
  #owedAck = 0;
  /**
   * Frames of the open Noise message, in order, with their sequences (a
   * frame object may be shared by several connections; an owed Ack's
   * sequence is followed by its `upTo`, see {@link #addOwedAck}), and their
   * encoded length.
   */
  #frames: Frame[] = NONE;
  #sequences: number[] = NONE;
  #frameBytes = 0;
  /** The open message carries a VoiceFrame: padded to the voice class if it fits (PROTOCOL.md §2 "Padding"). */
  #voice = false;
  /** Sealed units waiting for the end of the turn, and their total length. */
  #units: Uint8Array[] = NONE;
  #unitBytes = 0;
  #flushQueued = false;
  /**
   * When the oldest live delivery not yet written was read from its sender
   * (`performance.now()`), and how many such deliveries wait: one write
   * reports them all at the oldest's delay (an upper bound for the others,
   * usually read in the same chunk). Null (not a number field) so an idle
   * session holds no boxed number.
   */
  #readAt: number | null = null;
  #stamped = 0;
  /** {@link flush} for queueMicrotask, bound at the first batch (not per idle session). */
  #flushNow: (() => void) | null = null;

  constructor(link: Link, maxBacklogBytes: number, hooks: OutboundHooks) {
    this.#link = link;
    this.#maxBacklogBytes = maxBacklogBytes;
    this.#hooks = hooks;
    this.#joinUnits = link.mode === "websocket" || link.mode === "binary";
  }

  /**
   * Writes go to `link` from now on (a session's multipath paths, after the
   * Ack that opened them went out on the connection's own link). Whether
   * units are joined per write stays as the first link's mode set it, as
   * with the forwarding link this replaces; the scratch and the backlog
   * follow the new link.
   */
  relink(link: Link): void {
    this.#link = link;
  }

  /** From now on frames are Noise transport messages, padded under `padding` if given. */
  encryptWith(transport: NoiseTransport, padding: PaddingPolicy | null = null): void {
    this.#transport = transport;
    this.#padding = padding;
  }

  /** Bytes handed over but not read by the client yet, this turn's batch included. */
  get #backlog(): number {
    return this.#link.backlogBytes + this.#frameBytes + this.#unitBytes;
  }

  /** True when the client has left more than the outbound bound unread. */
  get overBound(): boolean {
    return this.#backlog >= this.#maxBacklogBytes;
  }

  /** True while the client has read all but less than half the outbound bound (room for call media). */
  get underHalfBound(): boolean {
    return this.#backlog < this.#maxBacklogBytes / 2;
  }

  /** True when a cumulative Ack is owed. */
  get owesAck(): boolean {
    return this.#owedAck !== 0;
  }

  /** Records that client frames up to `sequence` are routed and owed a cumulative Ack. */
  oweAck(sequence: number): void {
    this.#owedAck = sequence;
  }

  /** Sends the owed cumulative Ack now (with this turn's batch), if any. */
  flushOwedAck(): void {
    if (this.#owedAck !== 0) this.#addOwedAck();
  }

  /** Sends a handshake-phase frame in the clear (its header visible to long-poll lines). */
  sendPlain(frame: Frame): void {
    const sequence = this.#nextSequence();
    this.#link.send(encodeFrame({ ...frame, sequence }), {
      channel: frame.channel,
      sequence,
      type: frameTypeLabel(frame.type),
    });
    this.#hooks.frameOut?.(frame.type);
  }

  /**
   * Queues `frame` for this turn's batch (an owed Ack ahead of it); returns
   * its sequence. It is written at the end of the current turn, or by
   * {@link flush}. `readAt`: a live delivery's read time from its sender
   * (`performance.now()`), for the route delay its write reports.
   */
  sendEncrypted(frame: Frame, readAt?: number): number {
    if (this.#owedAck !== 0) this.#addOwedAck();
    const sequence = this.#nextSequence();
    this.#add(frame, sequence);
    this.#hooks.frameOut?.(frame.type);
    if (readAt !== undefined && readAt === readAt) {
      if (this.#readAt === null || readAt < this.#readAt) this.#readAt = readAt;
      this.#stamped++;
    }
    return sequence;
  }

  /** After a write: the live deliveries it carried and their oldest's delay since its read. */
  #wrote(): void {
    if (this.#stamped === 0) return;
    this.#hooks.routeDelay?.((performance.now() - this.#readAt!) / 1000, this.#stamped);
    this.#readAt = null;
    this.#stamped = 0;
  }

  /**
   * Closes the open Noise message now: later frames go into a new one. For a
   * key switch (rekey `done` is the last frame under the old key).
   */
  seal(): void {
    if (this.#frames.length === 0) return;
    const unit = new Uint8Array(this.#sealedLength());
    this.#sealInto(unit, 0);
    if (this.#units === NONE) this.#units = [];
    this.#units.push(unit);
    this.#unitBytes += unit.length;
  }

  /** Writes everything batched so far (the end of a turn, or before the link closes). */
  flush(): void {
    if (this.#owedAck !== 0 && (this.#frames.length > 0 || this.#units.length > 0)) {
      // The owed Ack rides along instead of costing a message of its own later.
      this.flushOwedAck();
    }
    if (this.#joinUnits && this.#frames.length > 0) {
      const total = this.#unitBytes + this.#sealedLength();
      if (total <= MAX_BATCH_WRITE) {
        this.#writeJoined(total);
        this.#wrote();
        return;
      }
    }
    this.seal();
    const units = this.#units;
    if (units.length === 0) return;
    this.#units = NONE;
    this.#unitBytes = 0;
    if (!this.#joinUnits) {
      for (const unit of units) this.#link.send(unit, null);
      this.#wrote();
      return;
    }
    let from = 0;
    while (from < units.length) {
      let to = from + 1;
      let bytes = units[from].length;
      while (to < units.length && bytes + units[to].length <= MAX_BATCH_WRITE) {
        bytes += units[to++].length;
      }
      this.#link.send(to === from + 1 ? units[from] : join(units.slice(from, to), bytes), null);
      from = to;
    }
    this.#wrote();
  }

  /**
   * The turn's one write: the units sealed earlier, then the open message
   * sealed in place behind them, in one buffer of `total` bytes.
   */
  #writeJoined(total: number): void {
    if (this.#units.length === 0 && this.#link.copiesOnSend) {
      this.#writeInArea();
      return;
    }
    let out: Uint8Array;
    if (this.#link.copiesOnSend) {
      if (scratch.length < total) {
        scratch = new Uint8Array(Math.max(total, 2 * scratch.length, 4096));
      }
      out = scratch;
    } else {
      out = new Uint8Array(total);
    }
    let at = 0;
    // Indexed: an iterator per write (of the usual empty list) otherwise.
    const units = this.#units;
    for (let i = 0; i < units.length; i++) {
      out.set(units[i], at);
      at += units[i].length;
    }
    this.#units = NONE;
    this.#unitBytes = 0;
    at = this.#sealInto(out, at);
    this.#link.send(out.length === at ? out : out.subarray(0, at), null);
  }

  /**
   * The usual turn's write, the open message alone, to a link that copies:
   * built and sealed in the AEAD's own memory ({@link aeadArea}), so it is
   * neither copied into the AEAD nor back out (two copies and two views per
   * write, ~1k instructions), and the length prefix is written in front of
   * it once sealed (the AEAD's call wipes the bytes before its message); the
   * view handed to the link is one the AEAD keeps for that length.
   */
  #writeInArea(): void {
    const padded = this.#paddedLength();
    const area = aeadArea(padded);
    const end = this.#sealBody(area, AEAD_AREA_AT, padded);
    const start = AEAD_AREA_AT - varintLength(end - AEAD_AREA_AT);
    writeVarint(end - AEAD_AREA_AT, area, start);
    this.#link.send(aeadAreaView(start, end), null);
  }

  /** Bytes the open message takes sealed as a unit: length prefix, padded plaintext, tag. */
  #sealedLength(): number {
    const sealed = this.#paddedLength() + TAG_LENGTH;
    return varintLength(sealed) + sealed;
  }

  #paddedLength(): number {
    return this.#padding
      ? paddedLength(this.#frameBytes, this.#padding, this.#voice)
      : this.#frameBytes;
  }

  /**
   * Seals the open message as a unit into `out` at `at`: the length prefix,
   * the frames encoded in place, zero padding, then encryption in place and
   * the tag. Returns the offset just past the unit; the open message is empty.
   */
  #sealInto(out: Uint8Array, at: number): number {
    const padded = this.#paddedLength();
    return this.#sealBody(out, writeVarint(padded + TAG_LENGTH, out, at), padded);
  }

  /**
   * {@link #sealInto} without the length prefix: the frames encoded at
   * `start`, zero padding to `padded` bytes, encrypted in place with the
   * tag after. Returns the offset just past the tag.
   */
  #sealBody(out: Uint8Array, start: number, padded: number): number {
    let offset = start;
    const frames = this.#frames, sequences = this.#sequences;
    for (let i = 0, j = 0; i < frames.length; i++) {
      const frame = frames[i], sequence = sequences[j++];
      offset = frame === OWED_ACK
        ? writeCumulativeAck(sequences[j++], sequence, out, offset)
        : writeFrame(frame, sequence, out, offset);
    }
    // The scratch holds earlier bytes: padding must be written as zeros.
    if (offset < start + padded) out.fill(0, offset, start + padded);
    spare(spareFrames, frames);
    spare(spareSequences, sequences);
    this.#frames = NONE;
    this.#sequences = NONE;
    this.#frameBytes = 0;
    this.#voice = false;
    return start + this.#transport!.encryptInPlace(out, start, padded);
  }

  /**
   * Adds a frame (checked now, encoded when sealed) to the open Noise
   * message; a full one is sealed first.
   */
  #add(frame: Frame, sequence: number): void {
    this.#push(frame, sequence, encodedFrameLength(frame, sequence));
  }

  /** {@link #add} of a frame checked and measured (`length` encoded bytes). */
  #push(frame: Frame, sequence: number, length: number): void {
    if (this.#frameBytes + length > MAX_BATCH_PLAINTEXT) this.seal();
    this.#voice ||= frame.type === FrameType.VoiceFrame;
    if (this.#frames === NONE) {
      this.#frames = spareFrames.pop() ?? [];
      this.#sequences = spareSequences.pop() ?? [];
    }
    this.#frames.push(frame);
    this.#sequences.push(sequence);
    this.#frameBytes += length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushNow ??= this.#flushQueuedBatch.bind(this));
    }
  }

  #flushQueuedBatch(): void {
    this.#flushQueued = false;
    this.flush();
  }

  /**
   * Adds the owed cumulative Ack (no longer owed) with the next sequence:
   * {@link OWED_ACK} in the frames, its `upTo` after its sequence in the
   * sequences; written by {@link #sealInto} (no frame or payload per Ack).
   */
  #addOwedAck(): void {
    const upTo = this.#owedAck;
    this.#owedAck = 0;
    const sequence = this.#nextSequence();
    this.#push(OWED_ACK, sequence, cumulativeAckLength(upTo, sequence));
    this.#sequences.push(upTo);
  }

  #nextSequence(): number {
    this.#sequence = this.#sequence >= 0xffffffff ? 1 : this.#sequence + 1;
    return this.#sequence;
  }
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
