/**
 * Forward error correction for multipath sessions: RaptorQ (RFC 6330, the
 * `raptorq` 1.7 crate as WebAssembly) over a small packet format
 * (docs/PROTOCOL.md "FEC packets"). It protects Noise ciphertext (encrypt,
 * then FEC), so a wrong decode is caught by the AEAD above.
 *
 * - {@link FecEncoder}: object → packets (K source, then repair).
 * - {@link FecDecoder}: packets → object; duplicates dropped, memory bounded.
 * - {@link RaptorqEngine}: where RaptorQ runs, in-process
 *   ({@link InProcessRaptorq}) or in a Worker without permissions
 *   ({@link WorkerRaptorq}); {@link createRaptorqEngine} picks one.
 * - {@link repairOverheadForPaths}: the overhead that survives losing a path.
 *
 * The multipath sessions' codec (src/multipath/raptorq.ts) and batcher
 * (src/multipath/fec_batcher.ts) are built on these.
 *
 * ```ts
 * const engine = await createRaptorqEngine("worker");
 * const enc = new FecEncoder(engine), dec = new FecDecoder(engine);
 * for (const p of await enc.encode(1, bytes, { repairOverhead: 0.55 })) {
 *   const object = await dec.push(p); // the bytes once enough arrived
 * }
 * engine.close();
 * ```
 *
 * @module
 */
export {
  DEFAULT_REPAIR_OVERHEAD,
  DEFAULT_SYMBOL_SIZE,
  type FecEncodeOptions,
  FecEncoder,
  type FecEncoderOptions,
} from "./encoder.ts";
export { FecDecoder, type FecDecoderLimits, type FecDecoderStats } from "./decoder.ts";
export {
  createRaptorqEngine,
  InProcessRaptorq,
  type RaptorqEngine,
  WorkerRaptorq,
} from "./engine.ts";
export {
  FecBufferFullError,
  FecError,
  FecMalformedPacketError,
  FecObjectTooLargeError,
  FecOptionsError,
  FecUndecodableError,
} from "./errors.ts";
export {
  FEC_HEADER_BYTES,
  FEC_PACKET_VERSION,
  type FecPacket,
  MAX_SYMBOL_SIZE,
  MAX_TRANSFER_LENGTH,
  MIN_SYMBOL_SIZE,
  parseFecPacket,
  sourceSymbolCount,
} from "./packet.ts";
export {
  MAX_REPAIR_OVERHEAD,
  OVERHEAD_MARGIN,
  repairOverheadForPaths,
  repairSymbolCount,
} from "./overhead.ts";
