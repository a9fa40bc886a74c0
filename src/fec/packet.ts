/**
 * The FEC packet wire format (docs/PROTOCOL.md "FEC packets"). All integers
 * big-endian:
 *
 * ```
 *  0  u8   version (1)
 *  1  u8   flags (0; reserved)
 *  2  u32  object id
 *  6  u32  transfer length F (bytes of the object)
 * 10  u16  symbol size T (a multiple of 8)
 * 12  u8   SBN (source block number; always 0)
 * 13  u24  ESI (encoding symbol id)
 * 16  T    the symbol
 * ```
 *
 * Bytes 12.. are exactly what the `raptorq` 1.7 crate serialises (upstream's
 * form: payload id then symbol). F and T are the whole Object Transmission
 * Information: both sides derive the rest (one source block, one sub-block,
 * alignment 8) from them, which the limits here guarantee.
 *
 * @module
 */
import { FecMalformedPacketError } from "./errors.ts";

/** Version byte of this format. */
export const FEC_PACKET_VERSION = 1;
/** Bytes before the raptorq payload id: version, flags, object id, F, T. */
export const FEC_OTI_HEADER_BYTES = 12;
/** Bytes before the symbol. */
export const FEC_HEADER_BYTES = 16;
/** Smallest symbol size accepted. */
export const MIN_SYMBOL_SIZE = 64;
/** Largest symbol size accepted (a datagram-sized symbol; larger buys nothing). */
export const MAX_SYMBOL_SIZE = 8192;
/**
 * Hard ceiling on F, whatever the configuration: below it (and with at most
 * {@link MAX_SOURCE_SYMBOLS} symbols) RFC 6330 §4.3 with the crate's 10 MiB
 * working memory gives one source block of one sub-block.
 */
export const MAX_TRANSFER_LENGTH = 8 * 1024 * 1024;
/** RFC 6330's largest K' (one source block holds at most this many symbols). */
export const MAX_SOURCE_SYMBOLS = 56_403;
/** The largest ESI (24 bits). */
export const MAX_ESI = 0xff_ffff;

/** A parsed FEC packet (the symbol is a view into the packet). */
export interface FecPacket {
  readonly objectId: number;
  readonly transferLength: number;
  readonly symbolSize: number;
  readonly sbn: number;
  readonly esi: number;
  /** The raptorq-serialised part: payload id + symbol (a view). */
  readonly raptorq: Uint8Array;
  /** The symbol alone (a view). */
  readonly symbol: Uint8Array;
}

/** K: the number of source symbols of an object of `transferLength` bytes. */
export function sourceSymbolCount(transferLength: number, symbolSize: number): number {
  return Math.ceil(transferLength / symbolSize);
}

/** Null when (F, T) is a valid OTI within the hard limits, else why not. */
export function otiProblem(transferLength: number, symbolSize: number): string | null {
  if (!Number.isInteger(symbolSize) || symbolSize % 8 !== 0) {
    return `symbol size ${symbolSize} is not a multiple of 8`;
  }
  if (symbolSize < MIN_SYMBOL_SIZE || symbolSize > MAX_SYMBOL_SIZE) {
    return `symbol size ${symbolSize} is outside ${MIN_SYMBOL_SIZE}..${MAX_SYMBOL_SIZE}`;
  }
  if (!Number.isInteger(transferLength) || transferLength < 1) {
    return `transfer length ${transferLength} is not a positive integer`;
  }
  if (sourceSymbolCount(transferLength, symbolSize) > MAX_SOURCE_SYMBOLS) {
    return `${transferLength} bytes in ${symbolSize}-byte symbols is over ${MAX_SOURCE_SYMBOLS} symbols`;
  }
  return null;
}

/** Parses a packet; throws {@link FecMalformedPacketError} on anything off. */
export function parseFecPacket(bytes: Uint8Array): FecPacket {
  if (bytes.length < FEC_HEADER_BYTES + MIN_SYMBOL_SIZE) {
    throw new FecMalformedPacketError(`${bytes.length} bytes is too short`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[0];
  if (version !== FEC_PACKET_VERSION) throw new FecMalformedPacketError(`version ${version}`);
  if (bytes[1] !== 0) throw new FecMalformedPacketError(`flags ${bytes[1]} (reserved, must be 0)`);
  const objectId = view.getUint32(2);
  const transferLength = view.getUint32(6);
  const symbolSize = view.getUint16(10);
  const problem = otiProblem(transferLength, symbolSize);
  if (problem) throw new FecMalformedPacketError(problem);
  if (bytes.length !== FEC_HEADER_BYTES + symbolSize) {
    throw new FecMalformedPacketError(
      `${bytes.length} bytes, expected ${
        FEC_HEADER_BYTES + symbolSize
      } for symbol size ${symbolSize}`,
    );
  }
  const sbn = bytes[12];
  // One source block per object (see the module doc): any other SBN is forged.
  if (sbn !== 0) throw new FecMalformedPacketError(`source block ${sbn} (objects have one)`);
  const esi = (bytes[13] << 16) | (bytes[14] << 8) | bytes[15];
  return {
    objectId,
    transferLength,
    symbolSize,
    sbn,
    esi,
    raptorq: bytes.subarray(FEC_OTI_HEADER_BYTES),
    symbol: bytes.subarray(FEC_HEADER_BYTES),
  };
}

/** Prefixes a raptorq-serialised packet (payload id + symbol) with the object header. */
export function frameFecPacket(
  objectId: number,
  transferLength: number,
  symbolSize: number,
  raptorq: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(FEC_OTI_HEADER_BYTES + raptorq.length);
  const view = new DataView(out.buffer);
  out[0] = FEC_PACKET_VERSION;
  out[1] = 0;
  view.setUint32(2, objectId);
  view.setUint32(6, transferLength);
  view.setUint16(10, symbolSize);
  out.set(raptorq, FEC_OTI_HEADER_BYTES);
  return out;
}
