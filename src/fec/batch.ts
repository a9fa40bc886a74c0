/**
 * Several small frames in one FEC object: each object costs a fixed ~0.2 ms
 * of RaptorQ set-up, so small frames travel together. Layout: for each frame
 * a u32 big-endian length then its bytes, nothing else (docs/PROTOCOL.md
 * "FEC packets").
 *
 * @module
 */
import { FecMalformedPacketError } from "./errors.ts";

/** Packs frames into one object. */
export function packFrames(frames: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const f of frames) size += 4 + f.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of frames) {
    view.setUint32(at, f.length);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** Splits an object made by {@link packFrames}; a truncated or overlong entry is refused. */
export function unpackFrames(object: Uint8Array): Uint8Array[] {
  const view = new DataView(object.buffer, object.byteOffset, object.byteLength);
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at < object.length) {
    if (object.length - at < 4) {
      throw new FecMalformedPacketError(`batch: ${object.length - at} stray bytes at ${at}`);
    }
    const length = view.getUint32(at);
    if (length > object.length - at - 4) {
      throw new FecMalformedPacketError(
        `batch: a ${length}-byte frame at ${at} overruns the object`,
      );
    }
    frames.push(object.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return frames;
}

/**
 * Collects frames until the next one would push the batch past
 * `targetBytes`; then hands back the full batch. A frame larger than the
 * target travels alone.
 */
export class FrameBatcher {
  readonly #target: number;
  #frames: Uint8Array[] = [];
  #size = 0;

  constructor(targetBytes: number) {
    if (!(targetBytes > 0)) throw new RangeError(`batch target ${targetBytes} must be positive`);
    this.#target = targetBytes;
  }

  /** Frames waiting. */
  get pending(): number {
    return this.#frames.length;
  }

  /** Adds a frame: the packed batch it closed, or null when it still fits. */
  add(frame: Uint8Array): Uint8Array | null {
    const cost = 4 + frame.length;
    let ready: Uint8Array | null = null;
    if (this.#frames.length > 0 && this.#size + cost > this.#target) ready = this.flush();
    this.#frames.push(frame);
    this.#size += cost;
    return ready;
  }

  /** The packed batch of what is waiting (null when nothing is). */
  flush(): Uint8Array | null {
    if (this.#frames.length === 0) return null;
    const out = packFrames(this.#frames);
    this.#frames = [];
    this.#size = 0;
    return out;
  }
}
