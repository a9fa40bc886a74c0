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
 * @module
 */
import type { NoiseTransport } from "../crypto/mod.ts";
import {
  encodeFrame,
  encodeUnit,
  type Frame,
  FrameType,
  frameTypeLabel,
  type PaddingPolicy,
  padPlaintext,
} from "../proto/mod.ts";
import type { Link } from "../transport/mod.ts";
import { encodeCumulativeAck } from "./owed_acks.ts";

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
}

/** Sequencing and encryption of everything the server sends on one link. */
export class Outbound {
  readonly #link: Link;
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
  /** Encoded frames of the open Noise message, in order, and their total length. */
  #frames: Uint8Array[] = [];
  #frameBytes = 0;
  /** The open message carries a VoiceFrame: padded to the voice class if it fits (PROTOCOL.md §2 "Padding"). */
  #voice = false;
  /** Sealed units waiting for the end of the turn, and their total length. */
  #units: Uint8Array[] = [];
  #unitBytes = 0;
  #flushQueued = false;

  constructor(link: Link, maxBacklogBytes: number, hooks: OutboundHooks) {
    this.#link = link;
    this.#maxBacklogBytes = maxBacklogBytes;
    this.#hooks = hooks;
    this.#joinUnits = link.mode === "websocket" || link.mode === "binary";
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
    const owed = this.#takeOwedAck();
    if (owed !== null) this.#add(owed);
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
   * {@link flush}.
   */
  sendEncrypted(frame: Frame): number {
    const owed = this.#takeOwedAck();
    if (owed !== null) this.#add(owed);
    const sequence = this.#nextSequence();
    this.#add(encodeFrame({ ...frame, sequence }), frame.type === FrameType.VoiceFrame);
    this.#hooks.frameOut?.(frame.type);
    return sequence;
  }

  /**
   * Closes the open Noise message now: later frames go into a new one. For a
   * key switch (rekey `done` is the last frame under the old key).
   */
  seal(): void {
    if (this.#frames.length === 0) return;
    const plaintext = this.#frames.length === 1
      ? this.#frames[0]
      : join(this.#frames, this.#frameBytes);
    const voice = this.#voice;
    this.#frames = [];
    this.#frameBytes = 0;
    this.#voice = false;
    const padded = this.#padding ? padPlaintext(plaintext, this.#padding, voice) : plaintext;
    const unit = encodeUnit(this.#transport!.encrypt(padded));
    this.#units.push(unit);
    this.#unitBytes += unit.length;
  }

  /** Writes everything batched so far (the end of a turn, or before the link closes). */
  flush(): void {
    if (this.#owedAck !== 0 && (this.#frames.length > 0 || this.#units.length > 0)) {
      // The owed Ack rides along instead of costing a message of its own later.
      this.flushOwedAck();
    }
    this.seal();
    const units = this.#units;
    if (units.length === 0) return;
    this.#units = [];
    this.#unitBytes = 0;
    if (!this.#joinUnits) {
      for (const unit of units) this.#link.send(unit, null);
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
  }

  /** Adds an encoded frame to the open Noise message (a full one is sealed first). */
  #add(encoded: Uint8Array, voice = false): void {
    if (this.#frameBytes + encoded.length > MAX_BATCH_PLAINTEXT) this.seal();
    this.#voice ||= voice;
    this.#frames.push(encoded);
    this.#frameBytes += encoded.length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushNow);
    }
  }

  readonly #flushNow = (): void => {
    this.#flushQueued = false;
    this.flush();
  };

  #takeOwedAck(): Uint8Array | null {
    if (this.#owedAck === 0) return null;
    const upTo = this.#owedAck;
    this.#owedAck = 0;
    return encodeCumulativeAck(upTo, this.#nextSequence());
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
