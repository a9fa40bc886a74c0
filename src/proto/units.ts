/**
 * Established-phase framing (upstream §2.5): each direction is a stream of
 * `varint(len) || ciphertext` units, one Noise transport message per unit.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { readVarint, readVarintEnd, varintLength, writeVarint } from "./varint.ts";

/** Largest Noise message (Noise spec §3). */
export const MAX_UNIT_LEN = 65535;

const NO_BYTES = new Uint8Array(0);

/** Wraps a ciphertext as a unit. */
export function encodeUnit(ciphertext: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(ciphertext.length) + ciphertext.length);
  const offset = writeVarint(ciphertext.length, out, 0);
  out.set(ciphertext, offset);
  return out;
}

/** Splits an upstream byte stream into units, whatever the chunking. */
export class UnitDecoder {
  #buf = NO_BYTES;
  #start = 0;
  #end = 0;

  /** Bytes held waiting for the rest of a unit. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Adds `chunk`; returns the complete units now available. Throws CodecError
   * on a bad length. When nothing is buffered, units are views into `chunk`
   * (no copy; the caller must not reuse `chunk`), and only a trailing partial
   * unit is buffered: an idle connection holds no buffer at all.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#start === this.#end) return this.#pushDirect(chunk);
    this.#append(chunk);
    const units: Uint8Array[] = [];
    while (this.#start < this.#end) {
      const length = readVarint(this.#buf, this.#start, this.#end);
      if (length === -1) break;
      if (length === 0) throw new CodecError("EmptyFrame");
      if (length > MAX_UNIT_LEN) throw new CodecError("FrameTooLarge");
      const bodyStart = readVarintEnd();
      if (this.#end - bodyStart < length) break;
      units.push(this.#buf.slice(bodyStart, bodyStart + length));
      this.#start = bodyStart + length;
    }
    if (this.#start === this.#end) this.#release();
    return units;
  }

  /**
   * {@link push} without an array per chunk: calls `onUnit` with each
   * complete unit, in order, as it is found (views into `chunk` when nothing
   * is buffered, as with `push`). A bad length throws after the units before
   * it were handled; once `onUnit` or a bad length throws, the decoder is
   * not to be used again (the rest of the chunk is dropped).
   */
  pushEach(chunk: Uint8Array, onUnit: (unit: Uint8Array) => void): void {
    if (this.#start !== this.#end) {
      const units = this.push(chunk);
      for (let u = 0; u < units.length; u++) onUnit(units[u]);
      return;
    }
    let pos = 0;
    while (pos < chunk.length) {
      const length = readVarint(chunk, pos, chunk.length);
      if (length === -1) break;
      if (length === 0) throw new CodecError("EmptyFrame");
      if (length > MAX_UNIT_LEN) throw new CodecError("FrameTooLarge");
      const bodyStart = readVarintEnd();
      if (chunk.length - bodyStart < length) break;
      pos = bodyStart + length;
      onUnit(chunk.subarray(bodyStart, pos));
    }
    if (pos < chunk.length) this.#append(chunk.subarray(pos));
  }

  #pushDirect(chunk: Uint8Array): Uint8Array[] {
    let units: Uint8Array[] | null = null;
    let pos = 0;
    while (pos < chunk.length) {
      const length = readVarint(chunk, pos, chunk.length);
      if (length === -1) break;
      if (length === 0) throw new CodecError("EmptyFrame");
      if (length > MAX_UNIT_LEN) throw new CodecError("FrameTooLarge");
      const bodyStart = readVarintEnd();
      if (chunk.length - bodyStart < length) break;
      const unit = chunk.subarray(bodyStart, bodyStart + length);
      // A literal for the first: the usual chunk holds one unit, and an
      // empty array's first push reserves 17 slots.
      if (units === null) units = [unit];
      else units.push(unit);
      pos = bodyStart + length;
    }
    if (pos < chunk.length) this.#append(chunk.subarray(pos));
    return units ?? [];
  }

  /** Drops the buffer once drained; the next partial unit allocates again. */
  #release(): void {
    this.#start = this.#end = 0;
    this.#buf = NO_BYTES;
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
