/**
 * The client's sending side of the Noise transport: seals up to two frames
 * into one transport message and writes it.
 *
 * @module
 */
import type { EpochTransport } from "../crypto/mod.ts";
import { TAG_LENGTH } from "../crypto/noise/mod.ts";
import {
  type Frame,
  paddedLength,
  type PaddingPolicy,
  varintLength,
  writeFrame,
  writeVarint,
} from "../proto/mod.ts";
import { DELIVERY_ACK, writeDeliveryAck } from "./delivery_ack.ts";
import type { ClientChannel } from "./channel.ts";

/**
 * Units up to this many bytes are sealed in the reused buffer (larger ones
 * in their own): a 4 KiB padded plaintext with its tag and length.
 */
const REUSED_BYTES = 4096 + 32;
/** Views of the reused buffer kept per unit length (padded lengths are few classes). */
const MAX_VIEWS = 16;

/** Seals transport messages for one session and writes them to its channel. */
export class UnitSealer {
  readonly #transport: EpochTransport;
  readonly #channel: ClientChannel;
  readonly #padding: PaddingPolicy | null;
  readonly #onUnit: ((direction: "in" | "out", bytes: number) => void) | undefined;
  /** The channel copies what it is given (`ClientChannel.copiesWrites`). */
  readonly #reuses: boolean;
  /**
   * Then messages are sealed in this one buffer (allocated at the first):
   * a fresh buffer per message was an allocation on the native heap per send.
   */
  #reused: Uint8Array | null = null;
  /** Views of {@link #reused} by length: no view allocated per message either. */
  readonly #views = new Map<number, Uint8Array>();
  /** `performance.now()` of the last message written. */
  lastSentAt = performance.now();

  constructor(
    transport: EpochTransport,
    channel: ClientChannel,
    padding: PaddingPolicy | null,
    onUnit: ((direction: "in" | "out", bytes: number) => void) | undefined,
  ) {
    this.#transport = transport;
    this.#channel = channel;
    this.#padding = padding;
    this.#onUnit = onUnit;
    this.#reuses = channel.copiesWrites === true;
  }

  /**
   * Seals one transport message of up to two frames (with their sequences and
   * encoded lengths) and writes it: the unit's length, the frames, the zero
   * padding when `pad1` is on (`voice` picks the voice class) and the tag,
   * all in one buffer sealed in place (no array per frame, per padding, per
   * ciphertext and per unit). `first` may be {@link DELIVERY_ACK}, written
   * for `ackUpTo`; null for both frames is a message of padding only.
   */
  seal(
    first: Frame | null,
    firstSequence: number,
    firstLength: number,
    second: Frame | null,
    secondSequence: number,
    secondLength: number,
    voice: boolean,
    ackUpTo: number,
  ): void {
    const plain = firstLength + secondLength;
    const padded = this.#padding ? paddedLength(plain, this.#padding, voice) : plain;
    const sealedLength = padded + TAG_LENGTH;
    const length = varintLength(sealedLength) + sealedLength;
    const reuse = this.#reuses && length <= REUSED_BYTES;
    const unit = reuse ? this.#view(length) : new Uint8Array(length);
    const start = writeVarint(sealedLength, unit, 0);
    let at = start;
    if (first === DELIVERY_ACK) at = writeDeliveryAck(ackUpTo, firstSequence, unit, at);
    else if (first !== null) at = writeFrame(first, firstSequence, unit, at);
    if (second !== null) at = writeFrame(second, secondSequence, unit, at);
    // The padding is zeros (the end marker included): a fresh buffer's, or written over
    // what the reused one last carried.
    if (reuse && padded > plain) unit.fill(0, at, start + padded);
    if (this.#transport.encryptInPlace(unit, start, padded) !== sealedLength) {
      throw new Error("the session has no sending key");
    }
    this.lastSentAt = performance.now();
    this.#onUnit?.("out", sealedLength);
    this.#channel.write(unit);
  }

  /** The first `length` bytes of the reused buffer. */
  #view(length: number): Uint8Array {
    let view = this.#views.get(length);
    if (view === undefined) {
      view = (this.#reused ??= new Uint8Array(REUSED_BYTES)).subarray(0, length);
      if (this.#views.size < MAX_VIEWS) this.#views.set(length, view);
    }
    return view;
  }
}
