/**
 * A reader for the TLS presentation language as MLS (RFC 9420 §2.1) uses it:
 * fixed-width big-endian integers and `opaque x<V>` vectors whose length is
 * a variable-size integer (1, 2 or 4 bytes, minimally encoded).
 *
 * @module
 */

/** Malformed MLS encoding (truncated, over-long, non-minimal length…). */
export class MlsDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MlsDecodeError";
  }
}

/** A cursor over bytes; every read checks bounds and throws {@link MlsDecodeError}. */
export class TlsReader {
  readonly bytes: Uint8Array;
  #offset: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.#offset = offset;
    this.#end = end;
  }

  /** Current position in {@link bytes}. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.#end - this.#offset;
  }

  #take(n: number, what: string): number {
    if (n > this.remaining) throw new MlsDecodeError(`truncated ${what}`);
    const at = this.#offset;
    this.#offset += n;
    return at;
  }

  /** One unsigned byte. */
  u8(what: string): number {
    return this.bytes[this.#take(1, what)];
  }

  /** A big-endian uint16. */
  u16(what: string): number {
    const at = this.#take(2, what);
    return (this.bytes[at] << 8) | this.bytes[at + 1];
  }

  /** A big-endian uint64 as a bigint. */
  u64(what: string): bigint {
    const at = this.#take(8, what);
    let value = 0n;
    for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(this.bytes[at + i]);
    return value;
  }

  /** A vector length (RFC 9420 §2.1.2): 1/2/4-byte varint, minimal encoding only. */
  varint(what: string): number {
    const first = this.u8(what);
    const prefix = first >> 6;
    if (prefix === 0) return first & 0x3f;
    if (prefix === 3) throw new MlsDecodeError(`${what}: invalid length prefix`);
    const size = prefix === 1 ? 2 : 4;
    let value = first & 0x3f;
    const at = this.#take(size - 1, what);
    for (let i = 0; i < size - 1; i++) value = value * 256 + this.bytes[at + i];
    const min = size === 2 ? 64 : 16384;
    if (value < min) throw new MlsDecodeError(`${what}: length not minimally encoded`);
    return value;
  }

  /** `opaque x<V>`: the bytes (a view, not a copy). */
  opaque(what: string): Uint8Array {
    const length = this.varint(what);
    const at = this.#take(length, what);
    return this.bytes.subarray(at, at + length);
  }

  /** `T x<V>`: a reader over the vector's content, which the caller must consume fully. */
  vector(what: string): TlsReader {
    const length = this.varint(what);
    const at = this.#take(length, what);
    return new TlsReader(this.bytes, at, at + length);
  }

  /** Throws unless everything was read. */
  end(what: string): void {
    if (this.remaining !== 0) throw new MlsDecodeError(`${what}: ${this.remaining} trailing bytes`);
  }
}

/** Encodes `n` as an MLS vector length (the minimal varint). */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 30) throw new RangeError("length out of range");
  if (n < 64) return new Uint8Array([n]);
  if (n < 16384) return new Uint8Array([0x40 | (n >> 8), n & 0xff]);
  return new Uint8Array([0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** `opaque x<V>` encoding of `bytes`. */
export function encodeOpaque(bytes: Uint8Array): Uint8Array {
  const length = encodeVarint(bytes.length);
  const out = new Uint8Array(length.length + bytes.length);
  out.set(length);
  out.set(bytes, length.length);
  return out;
}
