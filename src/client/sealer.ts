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

/** Seals transport messages for one session and writes them to its channel. */
export class UnitSealer {
  readonly #transport: EpochTransport;
  readonly #channel: ClientChannel;
  readonly #padding: PaddingPolicy | null;
  readonly #onUnit: ((direction: "in" | "out", bytes: number) => void) | undefined;
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
    const unit = new Uint8Array(varintLength(sealedLength) + sealedLength);
    const start = writeVarint(sealedLength, unit, 0);
    let at = start;
    if (first === DELIVERY_ACK) at = writeDeliveryAck(ackUpTo, firstSequence, unit, at);
    else if (first !== null) at = writeFrame(first, firstSequence, unit, at);
    if (second !== null) writeFrame(second, secondSequence, unit, at);
    // The padding is the buffer's zeros (the end marker included).
    if (this.#transport.encryptInPlace(unit, start, padded) !== sealedLength) {
      throw new Error("the session has no sending key");
    }
    this.lastSentAt = performance.now();
    this.#onUnit?.("out", sealedLength);
    this.#channel.write(unit);
  }
}
