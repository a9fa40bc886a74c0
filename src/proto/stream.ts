/**
 * Incremental CCP-1 stream decoding.
 *
 * @module
 */

import { CodecError } from "./errors.ts";
import {
  type DecodedFrame,
  decodedFrameEnd,
  decodeFrameAt,
  type DecodeOptions,
  resolveMaxFrameLength,
} from "./frame.ts";

const INITIAL_CAPACITY = 4096;
const EMPTY = new Uint8Array(0);
/** An idle buffer above this size is released, so one big frame does not pin memory. */
const RETAIN_CAPACITY = 1 << 20;

/**
 * The decode options a decoder passes, shared by every decoder with the same
 * settings (frozen: decodeFrame only reads them). Two option objects per
 * decoder were held for each idle session (~72 B); a server's sessions use
 * one or two maximum lengths, so the table stays tiny (bounded all the same).
 */
const SHARED_OPTIONS = new Map<string, Readonly<DecodeOptions>>();
const MAX_SHARED_OPTIONS = 64;

function sharedOptions(maxFrameLength: number, viewPayload?: boolean): Readonly<DecodeOptions> {
  const key = `${maxFrameLength}:${viewPayload ?? "-"}`;
  let options = SHARED_OPTIONS.get(key);
  if (options === undefined) {
    options = Object.freeze(
      viewPayload === undefined ? { maxFrameLength } : { maxFrameLength, viewPayload },
    );
    if (SHARED_OPTIONS.size < MAX_SHARED_OPTIONS) SHARED_OPTIONS.set(key, options);
  }
  return options;
}

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted body length; defaults to `MAX_FRAME_LEN` (16 MiB). */
  maxFrameLength?: number;
  /**
   * Frames decoded straight from a pushed chunk may have payloads that are
   * views of it (`DecodeOptions.viewPayload`): the caller hands each chunk
   * over and never changes it. Frames from the decoder's own buffer (a frame
   * split across chunks) are always copies.
   */
  viewPayloads?: boolean;
}

/**
 * Turns a byte stream, delivered in chunks of any size, into frames.
 *
 * Whole frames at the start of a chunk are decoded from the chunk itself (no
 * copy) while nothing is buffered. Other bytes are appended to one growable
 * buffer (doubling, compacted in place; allocated on first need), so many
 * small chunks or one large frame arriving byte by byte cost amortised O(1)
 * per byte. Once a chunk yields a {@linkcode CodecError} the stream is
 * unusable: the decoder keeps the error and rethrows it on every later call
 * until {@linkcode FrameDecoder.reset}.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder();
 * for await (const chunk of conn.readable) {
 *   for (const frame of decoder.push(chunk)) handle(frame);
 * }
 * ```
 */
export class FrameDecoder {
  #buffer: Uint8Array = EMPTY;
  #read = 0;
  #write = 0;
  /** Decoding straight from a chunk, and from the buffer (payloads always copied). */
  #direct: Readonly<DecodeOptions>;
  #buffered: Readonly<DecodeOptions>;
  #failure: CodecError | undefined;

  /** Creates a decoder; see {@linkcode FrameDecoderOptions}. */
  constructor(options: FrameDecoderOptions = {}) {
    const maxFrameLength = resolveMaxFrameLength(options.maxFrameLength);
    this.#direct = sharedOptions(maxFrameLength, options.viewPayloads ?? false);
    this.#buffered = sharedOptions(maxFrameLength);
  }

  /** Largest accepted body length. May be changed between chunks (e.g. after the handshake). */
  get maxFrameLength(): number {
    return this.#buffered.maxFrameLength!;
  }

  set maxFrameLength(value: number) {
    const maxFrameLength = resolveMaxFrameLength(value);
    this.#direct = sharedOptions(maxFrameLength, this.#direct.viewPayload ?? false);
    this.#buffered = sharedOptions(maxFrameLength);
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#write - this.#read;
  }

  /**
   * Appends `chunk` and returns every frame it completes, in order.
   * Throws {@linkcode CodecError} on malformed input; frames that preceded the
   * bad one in the same chunk are then not returned (use
   * {@linkcode FrameDecoder.append} and {@linkcode FrameDecoder.next} to
   * handle frames up to the exact point of failure). Only `chunk[0..end)`
   * is read (e.g. the frames of a padded message, without a view of them).
   */
  push(chunk: Uint8Array, end: number = chunk.length): DecodedFrame[] {
    if (this.#failure) throw this.#failure;
    let frames: DecodedFrame[] | null = null;
    let first: DecodedFrame | null = null;
    let offset = 0;
    if (this.#read === this.#write) {
      // Nothing buffered: decode straight from the chunk (payloads are copies unless viewPayloads).
      while (offset < end) {
        const frame = this.#decode(chunk, offset, end, this.#direct);
        if (frame === null) break;
        offset = decodedFrameEnd();
        // Literals for the first two: the usual chunk holds one frame or two
        // (a message and a delivery Ack), and a push past a literal's length
        // reserves 17 slots more (an empty array's first push as well).
        if (first === null) first = frame;
        else if (frames === null) frames = [first, frame];
        else frames.push(frame);
      }
      frames ??= first === null ? null : [first];
      if (offset === end) return frames ?? [];
    }
    frames ??= [];
    this.append(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end));
    for (let frame = this.next(); frame !== null; frame = this.next()) frames.push(frame);
    return frames;
  }

  /**
   * {@link push} without an array per chunk: calls `onFrame` with each frame
   * `chunk[0..end)` completes, in order, as it is decoded. Malformed input
   * throws after the frames before it were handled (as with
   * {@linkcode FrameDecoder.next}); a throw from `onFrame` leaves the rest
   * of the chunk undecoded and the decoder not to be used again.
   */
  pushEach(
    chunk: Uint8Array,
    end: number,
    onFrame: (frame: DecodedFrame) => void,
  ): void {
    if (this.#failure) throw this.#failure;
    let offset = 0;
    if (this.#read === this.#write) {
      while (offset < end) {
        const frame = this.#decode(chunk, offset, end, this.#direct);
        if (frame === null) break;
        offset = decodedFrameEnd(); // before onFrame, which may decode too
        onFrame(frame);
      }
      if (offset === end) return;
    }
    this.append(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end));
    for (let frame = this.next(); frame !== null; frame = this.next()) onFrame(frame);
  }

  /** Appends `chunk` without decoding. The chunk is copied; the caller may reuse it. */
  append(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (chunk.length === 0) return;
    this.#reserve(chunk.length);
    this.#buffer.set(chunk, this.#write);
    this.#write += chunk.length;
  }

  /**
   * Decodes the next complete frame, or returns `null` when more bytes are
   * needed. Throws {@linkcode CodecError} on malformed input.
   */
  next(): DecodedFrame | null {
    if (this.#failure) throw this.#failure;
    if (this.#read === this.#write) return null;
    const frame = this.#decode(this.#buffer, this.#read, this.#write, this.#buffered);
    if (frame === null) return null;
    this.#read = decodedFrameEnd();
    if (this.#read === this.#write) this.#release();
    return frame;
  }

  /** Drops all buffered bytes and any stored error; keeps `maxFrameLength`. */
  reset(): void {
    this.#buffer = EMPTY;
    this.#read = 0;
    this.#write = 0;
    this.#failure = undefined;
  }

  /** decodeFrameAt of `bytes[start..end)`, remembering a codec error. */
  #decode(
    bytes: Uint8Array,
    start: number,
    end: number,
    options: Readonly<DecodeOptions>,
  ): DecodedFrame | null {
    try {
      return decodeFrameAt(
        bytes,
        start,
        end,
        options.maxFrameLength!,
        options.viewPayload ?? false,
      );
    } catch (error) {
      if (error instanceof CodecError) this.#failure = error;
      throw error;
    }
  }

  /** Makes room for `extra` more bytes after `#write`. */
  #reserve(extra: number): void {
    if (this.#write + extra <= this.#buffer.length) return;
    const live = this.#write - this.#read;
    const needed = live + extra;
    if (needed <= this.#buffer.length / 2) {
      // Enough room once the consumed prefix is dropped; compacting copies at most
      // half the buffer, paid for by the bytes consumed since the last growth.
      this.#buffer.copyWithin(0, this.#read, this.#write);
    } else {
      let capacity = Math.max(INITIAL_CAPACITY, this.#buffer.length * 2);
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.#buffer.subarray(this.#read, this.#write));
      this.#buffer = grown;
    }
    this.#read = 0;
    this.#write = live;
  }

  /** Called when the buffer is fully consumed. */
  #release(): void {
    this.#read = 0;
    this.#write = 0;
    if (this.#buffer.length > RETAIN_CAPACITY) this.#buffer = EMPTY;
  }
}
