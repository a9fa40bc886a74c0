/**
 * Established-phase framing (upstream §2.5): each direction is a stream of
 * `varint(len) || ciphertext` units, one Noise transport message per unit.
 *
 * @module
 */
import { CodecError, decodeVarint, varintLength, writeVarint } from "../proto/mod.ts";

/** Largest Noise message (Noise spec §3). */
export const MAX_UNIT_LEN = 65535;

/** Wraps a ciphertext as a unit. */
export function encodeUnit(ciphertext: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(ciphertext.length) + ciphertext.length);
  const offset = writeVarint(ciphertext.length, out, 0);
  out.set(ciphertext, offset);
  return out;
}

/** Splits an upstream byte stream into units, whatever the chunking. */
export class UnitDecoder {
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** Bytes held waiting for the rest of a unit. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Adds `chunk`; returns the complete units now available. Throws CodecError on a bad length. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#append(chunk);
    const units: Uint8Array[] = [];
    while (this.#start < this.#end) {
      const prefix = decodeVarint(this.#buf, this.#start, this.#end);
      if (!prefix) break;
      if (prefix.value === 0) throw new CodecError("EmptyFrame");
      if (prefix.value > MAX_UNIT_LEN) throw new CodecError("FrameTooLarge");
      const bodyStart = this.#start + prefix.length;
      if (this.#end - bodyStart < prefix.value) break;
      units.push(this.#buf.slice(bodyStart, bodyStart + prefix.value));
      this.#start = bodyStart + prefix.value;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return units;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const live = this.#end - this.#start;
      const size = Math.max(live + chunk.length, this.#buf.length * 2, 1024);
      const next = size > this.#buf.length ? new Uint8Array(size) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}
