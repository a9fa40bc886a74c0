/**
 * The FEC codec a multipath session plugs in (the `FecCodec` port of
 * src/multipath/fec.ts, matched structurally so neither folder imports the
 * other): one encoder with the server's symbol size, and a bounded decoder
 * per session direction.
 *
 * @module
 */
import { FecDecoder, type FecDecoderLimits } from "./decoder.ts";
import { DEFAULT_SYMBOL_SIZE, FecEncoder } from "./encoder.ts";
import type { RaptorqEngine } from "./engine.ts";

/** Options of {@link RaptorqFecCodec}. */
export interface RaptorqFecCodecOptions {
  /** Bytes per symbol (default {@link DEFAULT_SYMBOL_SIZE}). */
  symbolSize?: number;
  /** Limits of each receiver (and the encoder's largest object). */
  limits?: FecDecoderLimits;
  /** Called with the number of packets of every encoded object (metrics). */
  onEncoded?: (packets: number) => void;
}

/** RaptorQ for multipath sessions; see the module doc. */
export class RaptorqFecCodec {
  readonly #engine: RaptorqEngine;
  readonly #encoder: FecEncoder;
  readonly #symbolSize: number;
  readonly #limits: FecDecoderLimits;
  readonly #onEncoded?: (packets: number) => void;

  constructor(engine: RaptorqEngine, options: RaptorqFecCodecOptions = {}) {
    this.#engine = engine;
    this.#symbolSize = options.symbolSize ?? DEFAULT_SYMBOL_SIZE;
    this.#limits = options.limits ?? {};
    this.#onEncoded = options.onEncoded;
    this.#encoder = new FecEncoder(engine, {
      maxTransferLength: this.#limits.maxTransferLength,
    });
  }

  /** The symbol size packets are cut to. */
  get symbolSize(): number {
    return this.#symbolSize;
  }

  /** Packets of object `objectId` with `overhead` repair symbols per source symbol. */
  async encode(objectId: number, object: Uint8Array, overhead: number): Promise<Uint8Array[]> {
    const packets = await this.#encoder.encode(objectId, object, {
      repairOverhead: overhead,
      symbolSize: this.#symbolSize,
    });
    this.#onEncoded?.(packets.length);
    return packets;
  }

  /** A bounded receiver for one session direction (`close()` frees what it holds). */
  receiver(): FecDecoder {
    return new FecDecoder(this.#engine, this.#limits);
  }
}
