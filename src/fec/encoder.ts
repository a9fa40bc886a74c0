/**
 * The FEC encoder: one object in, framed packets out (./packet.ts). The
 * caller numbers objects (a u32 that must not repeat while the receiver may
 * still hold the previous one of that number; a per-session counter does).
 *
 * @module
 */
import type { RaptorqEngine } from "./engine.ts";
import { FecObjectTooLargeError, FecOptionsError } from "./errors.ts";
import { repairSymbolCount } from "./overhead.ts";
import {
  FEC_HEADER_BYTES,
  FEC_OTI_HEADER_BYTES,
  frameFecPacket,
  MAX_TRANSFER_LENGTH,
  otiProblem,
  sourceSymbolCount,
} from "./packet.ts";

/** Upstream's assist default MTU (1152, a multiple of 8): fits a 1280-byte path MTU with headers. */
export const DEFAULT_SYMBOL_SIZE = 1152;
/** Upstream's assist default repair overhead. */
export const DEFAULT_REPAIR_OVERHEAD = 0.35;

/** Per-object options of {@link FecEncoder.encode}. */
export interface FecEncodeOptions {
  /** Repair symbols per source symbol (0 = source only); default {@link DEFAULT_REPAIR_OVERHEAD}. */
  repairOverhead?: number;
  /** Bytes per symbol, a multiple of 8 in 64..8192; default {@link DEFAULT_SYMBOL_SIZE}. */
  symbolSize?: number;
}

/** Options of {@link FecEncoder}. */
export interface FecEncoderOptions {
  /** Largest object accepted (default 1 MiB, at most 8 MiB). */
  maxTransferLength?: number;
}

/** Encodes objects into FEC packets through a {@link RaptorqEngine}. */
export class FecEncoder {
  readonly #engine: RaptorqEngine;
  readonly #maxTransferLength: number;

  constructor(engine: RaptorqEngine, options: FecEncoderOptions = {}) {
    this.#engine = engine;
    this.#maxTransferLength = Math.min(options.maxTransferLength ?? 1 << 20, MAX_TRANSFER_LENGTH);
  }

  /**
   * The packets of object `objectId`: K source packets (ESI 0..K−1) then the
   * repair packets (ESI from K'). Each is `16 + symbolSize` bytes.
   */
  async encode(
    objectId: number,
    bytes: Uint8Array,
    options: FecEncodeOptions = {},
  ): Promise<Uint8Array[]> {
    if (!Number.isInteger(objectId) || objectId < 0 || objectId > 0xffff_ffff) {
      throw new FecOptionsError(`object id ${objectId} is not a u32`);
    }
    if (bytes.length > this.#maxTransferLength) {
      throw new FecObjectTooLargeError(bytes.length, this.#maxTransferLength);
    }
    const symbolSize = options.symbolSize ?? DEFAULT_SYMBOL_SIZE;
    const problem = otiProblem(bytes.length, symbolSize);
    if (problem) throw new FecOptionsError(problem);
    const k = sourceSymbolCount(bytes.length, symbolSize);
    const repair = repairSymbolCount(k, options.repairOverhead ?? DEFAULT_REPAIR_OVERHEAD);
    const raw = repair === 0
      ? sourceOnly(bytes, symbolSize, k)
      : await this.#engine.encode(bytes, symbolSize, repair);
    return raw.map((p) => {
      if (p.length !== FEC_HEADER_BYTES - FEC_OTI_HEADER_BYTES + symbolSize) {
        throw new Error(`RaptorQ produced a ${p.length}-byte packet for symbol size ${symbolSize}`);
      }
      return frameFecPacket(objectId, bytes.length, symbolSize, p);
    });
  }
}

/**
 * Without repair RaptorQ is only its systematic part: the object cut into
 * symbols (the last zero-padded), so no engine call is needed.
 */
function sourceOnly(bytes: Uint8Array, symbolSize: number, k: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let esi = 0; esi < k; esi++) {
    const p = new Uint8Array(4 + symbolSize);
    p[1] = esi >>> 16;
    p[2] = (esi >>> 8) & 0xff;
    p[3] = esi & 0xff;
    p.set(bytes.subarray(esi * symbolSize, (esi + 1) * symbolSize), 4);
    out.push(p);
  }
  return out;
}
