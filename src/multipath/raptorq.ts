/**
 * The RaptorQ codec of multipath sessions: `src/fec`'s encoder and decoder
 * behind the {@link FecCodec} port. The engine (a permission-less Worker on
 * the server) is started on the first object, so sessions that never reach
 * three paths cost nothing.
 *
 * @module
 */
import {
  createRaptorqEngine,
  FecDecoder,
  FecEncoder,
  FecMalformedPacketError,
  FecObjectTooLargeError,
  type RaptorqEngine,
} from "../fec/mod.ts";
import type { FecCodec, FecReceiver } from "./fec.ts";

/** Largest batch object (the endpoint batches at most 64 KiB of units plus framing). */
export const MAX_FEC_OBJECT = 128 * 1024;

/**
 * Symbol size for an object: about 16 source symbols (so packets spread over
 * every path and the loss of one costs whole symbols, not the object), 64 to
 * 1152 bytes, a multiple of 8.
 */
export function symbolSizeFor(length: number): number {
  const size = Math.ceil(length / 16 / 8) * 8;
  return Math.min(Math.max(size, 64), 1152);
}

/**
 * How long a received object that holds K symbols but not all its sources
 * waits for them before RaptorQ decoding, ms. The packets of one object come
 * over every path, path by path, and two paths' share (sources and repair)
 * is K or more (that is what survives losing a path): without the wait every
 * object is decoded though nothing was lost — measured in the load tool's
 * multipath phase, 100% of the server's objects, ~17% of its CPU in the
 * Worker. A path really missing costs its objects this much delay (then
 * decoding without waiting for a while; src/fec/decoder.ts), far below the
 * 150 ms smallest retransmission timeout the repair symbols save.
 */
export const SOURCE_GRACE_MS = 20;

/** A RaptorQ codec; `close()` stops its engine. */
export interface RaptorqCodec extends FecCodec {
  close(): void;
}

/** RaptorQ over an engine of `kind` (created lazily), or over `engine` when given. */
export function raptorqCodec(
  kind: "inprocess" | "worker" = "worker",
  engine?: RaptorqEngine,
): RaptorqCodec {
  let ready: Promise<RaptorqEngine> | null = engine ? Promise.resolve(engine) : null;
  let closed = false;
  const start = () => (ready ??= createRaptorqEngine(kind));
  return {
    async encode(objectId, object, overhead) {
      const e = await start();
      if (closed) throw new Error("fec codec closed");
      return await new FecEncoder(e, { maxTransferLength: MAX_FEC_OBJECT }).encode(
        objectId,
        object,
        {
          repairOverhead: overhead,
          symbolSize: symbolSizeFor(object.length),
        },
      );
    },
    receiver(): FecReceiver {
      // The engine is asked for only when an object must be RaptorQ-decoded (a path's packets
      // missing): without loss every object is its sources' concatenation, no Worker needed.
      const lazy: RaptorqEngine = {
        kind,
        encode: (data, symbolSize, repair) =>
          start().then((e) => e.encode(data, symbolSize, repair)),
        decode: (length, symbolSize, packets) =>
          closed
            ? Promise.reject(new Error("fec codec closed"))
            : start().then((e) => e.decode(length, symbolSize, packets)),
        close() {},
      };
      const decoder = new FecDecoder(lazy, {
        maxTransferLength: MAX_FEC_OBJECT,
        maxObjects: 64,
        maxBufferedBytes: 8 * 1024 * 1024,
        sourceGraceMs: SOURCE_GRACE_MS,
      });
      const fail = (error: unknown): null => {
        // The sender's fault: the path is refused.
        if (
          error instanceof FecMalformedPacketError || error instanceof FecObjectTooLargeError
        ) {
          throw error;
        }
        // Undecodable or over budget: retransmission delivers the units instead.
        return null;
      };
      return {
        push(packet) {
          let result;
          try {
            result = decoder.offer(packet);
          } catch (error) {
            return fail(error);
          }
          return result instanceof Promise ? result.catch(fail) : result;
        },
        close() {
          decoder.close();
        },
      };
    },
    close() {
      closed = true;
      if (!engine) ready?.then((e) => e.close(), () => {});
    },
  };
}
