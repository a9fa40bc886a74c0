/**
 * Reads of an HTTP body (a request body on the server, a response body in
 * the client) without a fresh 64 KiB buffer per chunk.
 *
 * Deno's body streams are byte streams with `autoAllocateChunkSize` 64 KiB:
 * a default reader gets every chunk, however small, in a new zero-filled
 * 64 KiB `ArrayBuffer`, which the chunk then keeps alive for as long as any
 * view of it lives. On a streaming path that carries one small unit per
 * chunk that is a 64 KiB calloc and free per unit (3% of the server's CPU
 * in memset alone in the multipath load phase, PERFORMANCE.md "Multipath
 * sessions"). A BYOB reader fills one reused buffer instead, and each chunk
 * is copied out at its own size (callers keep views of chunks: unit
 * decoders, reorder buffers).
 *
 * @module
 */

/** Size of the reused read buffer (one per open body). */
export const CHUNK_READ_BYTES = 16 * 1024;

/** A reader of a byte stream that hands out exact-size chunks. */
export class ChunkReader {
  readonly #byob: ReadableStreamBYOBReader | null;
  readonly #plain: ReadableStreamDefaultReader<Uint8Array> | null;
  #buffer: ArrayBuffer;

  constructor(stream: ReadableStream<Uint8Array>, size = CHUNK_READ_BYTES) {
    let byob: ReadableStreamBYOBReader | null = null;
    try {
      byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream (a stand-in, a browser without BYOB): chunks as they come.
    }
    this.#byob = byob;
    this.#plain = byob === null ? stream.getReader() : null;
    this.#buffer = new ArrayBuffer(byob === null ? 0 : size);
  }

  /** The next chunk (a copy that owns its bytes), or done. */
  async read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (this.#byob === null) return await this.#plain!.read();
    const { value, done } = await this.#byob.read(new Uint8Array(this.#buffer));
    if (value !== undefined) this.#buffer = value.buffer as ArrayBuffer; // handed back (transferred)
    if (done || value === undefined) return { done: true, value: undefined };
    return { done: false, value: value.slice() };
  }

  /** Cancels the stream (idempotent, never throws). */
  async cancel(): Promise<void> {
    try {
      await (this.#byob ?? this.#plain)!.cancel();
    } catch { /* already errored or closed */ }
  }
}

/** The chunks of `stream` (exact-size copies) as an async iterable. */
export async function* readChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = new ChunkReader(stream);
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    yield value;
  }
}
