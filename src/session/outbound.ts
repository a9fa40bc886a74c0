/**
 * The server → client side of one connection: server sequence numbers,
 * plaintext frames during the handshake, one Noise message per frame after
 * it, the owed cumulative Ack that rides ahead of the next frame, and the
 * outbound bound every frame counts against (deliveries, Acks and Errors
 * alike: a client that does not read cannot make the server buffer replies).
 *
 * @module
 */
import type { NoiseTransport } from "../crypto/mod.ts";
import { encodeFrame, encodeUnit, type Frame, frameTypeLabel } from "../proto/mod.ts";
import type { Link } from "../transport/mod.ts";
import { encodeCumulativeAck } from "./owed_acks.ts";

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
  #transport: NoiseTransport | null = null;
  #sequence = 0;
  /** Highest client sequence routed but not acknowledged yet (cumulative mode), else 0. */
  #owedAck = 0;

  constructor(link: Link, maxBacklogBytes: number, hooks: OutboundHooks) {
    this.#link = link;
    this.#maxBacklogBytes = maxBacklogBytes;
    this.#hooks = hooks;
  }

  /** From now on frames are Noise transport messages. */
  encryptWith(transport: NoiseTransport): void {
    this.#transport = transport;
  }

  /** True when the client has left more than the outbound bound unread. */
  get overBound(): boolean {
    return this.#link.backlogBytes >= this.#maxBacklogBytes;
  }

  /** True while the client has read all but less than half the outbound bound (room for call media). */
  get underHalfBound(): boolean {
    return this.#link.backlogBytes < this.#maxBacklogBytes / 2;
  }

  /** True when a cumulative Ack is owed. */
  get owesAck(): boolean {
    return this.#owedAck !== 0;
  }

  /** Records that client frames up to `sequence` are routed and owed a cumulative Ack. */
  oweAck(sequence: number): void {
    this.#owedAck = sequence;
  }

  /** Sends the owed cumulative Ack now, if any. */
  flushOwedAck(): void {
    const owed = this.#takeOwedAck();
    if (owed !== null) this.#sendUnit(owed);
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

  /** Sends `frame` in its own Noise message (an owed Ack first, in its own); returns its sequence. */
  sendEncrypted(frame: Frame): number {
    const owed = this.#takeOwedAck();
    const sequence = this.#nextSequence();
    const encoded = encodeFrame({ ...frame, sequence });
    // Every server transport message carries exactly one frame (PROTOCOL.md §2).
    if (owed !== null) this.#sendUnit(owed);
    this.#sendUnit(encoded);
    this.#hooks.frameOut?.(frame.type);
    return sequence;
  }

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

  #sendUnit(plaintext: Uint8Array): void {
    this.#link.send(encodeUnit(this.#transport!.encrypt(plaintext)), null);
  }
}
