/**
 * The FEC port of a multipath session: RaptorQ (or anything else) turns a
 * batch of ciphertexts into packets and packets back into the batch. The
 * endpoint depends on this interface only; `src/fec/` provides the codec.
 *
 * @module
 */

/** Receives FEC packets of many objects; bounded by its implementation. */
export interface FecReceiver {
  /**
   * Takes one packet; returns an object's bytes when this packet completed
   * it (once per object), else null. Throws (or rejects) on a malformed
   * packet or one that would exceed its memory bounds.
   */
  push(packet: Uint8Array): Uint8Array | null | Promise<Uint8Array | null>;
  /** Frees what is held. */
  close(): void;
}

/** Encoder plus receiver factory. */
export interface FecCodec {
  /** Packets of object `objectId` with `overhead` repair symbols per source symbol. */
  encode(objectId: number, object: Uint8Array, overhead: number): Promise<Uint8Array[]>;
  /** A receiver for one session direction. */
  receiver(): FecReceiver;
  /** Releases the codec's engine (optional). */
  close?(): void;
}
