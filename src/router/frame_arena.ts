/**
 * Room for the encoded copies of small frames kept in the durable-copy window
 * (kept_copies.ts), carved out of shared chunks.
 *
 * Why: a copy lives until its device's Ack (the client's ack delay and a round
 * trip), past the scavenge that follows its turn, so everything it holds is
 * copied and then promoted to the old generation. Holding the decoded frame
 * meant holding the frame object, its payload view and — through the view —
 * the whole received WebSocket message (an ArrayBuffer with its native
 * store, for a ~100-byte payload). Encoded into a chunk here, a copy holds a
 * chunk reference and an offset: no typed array, buffer or native store of
 * its own, and the frame and the received message die young.
 *
 * A chunk is freed by the GC once no copy placed in it is held; copies leave
 * the window in about the order they were placed, so at most the window's
 * own bytes plus one chunk are kept alive.
 *
 * @module
 */

/** Default chunk size: a few hundred small copies per native allocation. */
export const ARENA_CHUNK_BYTES = 32 * 1024;
/** Encoded frames up to this length go into a chunk; larger ones keep their own bytes. */
export const ARENA_MAX_FRAME_BYTES = 1024;

/** Shared chunks for small kept copies (one per router). */
export class FrameArena {
  readonly #chunkBytes: number;
  readonly #maxFrameBytes: number;
  #chunk: Uint8Array = new Uint8Array(0);
  #used = 0;

  constructor(chunkBytes = ARENA_CHUNK_BYTES, maxFrameBytes = ARENA_MAX_FRAME_BYTES) {
    if (!(maxFrameBytes > 0 && chunkBytes >= maxFrameBytes)) {
      throw new RangeError("the arena's chunk must hold at least one frame");
    }
    this.#chunkBytes = chunkBytes;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * Reserves `length` bytes: their offset in {@link chunk} (read it after this
   * call: a new chunk may have been started), or -1 when `length` is over the
   * arena's frame bound.
   */
  reserve(length: number): number {
    if (length > this.#maxFrameBytes) return -1;
    if (this.#used + length > this.#chunk.length) {
      // The old chunk is left to the copies placed in it.
      this.#chunk = new Uint8Array(this.#chunkBytes);
      this.#used = 0;
    }
    const at = this.#used;
    this.#used += length;
    return at;
  }

  /** The chunk the last {@link reserve} placed its bytes in. */
  get chunk(): Uint8Array {
    return this.#chunk;
  }
}
