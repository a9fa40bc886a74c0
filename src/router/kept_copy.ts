/**
 * One copy of a live-delivered frame as the durable-copy window holds it
 * (kept_copies.ts), from its keep to its device's Ack — past the scavenge
 * after its turn, so everything it holds is copied and promoted: issue 18's
 * p99 at half load was scavenge pauses, which grow with what survives.
 *
 * So a 1:1 copy is **one object**: {@link KeptCopy} holds where its encoded
 * frame is (an arena chunk and offset, no object of its own), its kept time
 * as a small integer (a time in ms since 1970 is a boxed number per copy),
 * and — while it is the only copy of its frame — its own settlement: it is
 * its {@link CopyGroup} and its {@link Durability}. Before, each copy was a
 * KeptCopy, a LazyEncodedFrame, a CopyGroup and a boxed time surviving, and
 * a Durability per frame besides. A frame with several copies (a group
 * chat) still shares one CopyGroup.
 *
 * @module
 */
import { encodedFrameLength, encodeFrame, type Frame, writeFrame } from "../proto/mod.ts";
import { type CopyGroup, Durability, type DurabilityListener } from "./durability.ts";
import type { FrameArena } from "./frame_arena.ts";

/**
 * A frame encoded only when first needed: most copies of live deliveries
 * are acknowledged inside the window and never written, so they are never
 * encoded into bytes of their own. With a {@link FrameArena}, a small frame
 * is encoded at once into the arena's chunk and the frame let go (see
 * frame_arena.ts); a larger one, or one without an arena, is kept as the
 * frame, which must not change meanwhile. Shared by the copies of one
 * frame. (The router's own 1:1 copies do without it: {@link KeptCopy}
 * holds the chunk and offset itself.)
 */
export class LazyEncodedFrame {
  /** The encoded length. */
  readonly length: number;
  #frame: Frame | null;
  /** The encoded frame, or (when {@link #at} ≥ 0) the arena chunk holding it. */
  #bytes: Uint8Array | null = null;
  #at = -1;

  constructor(frame: Frame, arena?: FrameArena) {
    this.length = encodedLength(frame);
    const at = arena === undefined ? -1 : arena.reserve(this.length);
    if (at < 0) {
      this.#frame = frame;
    } else {
      this.#frame = null;
      this.#bytes = arena!.chunk;
      this.#at = at;
      writeFrame(frame, frame.sequence, this.#bytes, at);
    }
  }

  /** The encoded frame (made on the first call; never a view of an arena chunk). */
  get bytes(): Uint8Array {
    if (this.#at >= 0) {
      // A copy of its own: whoever takes the bytes (the store) must not pin the chunk.
      this.#bytes = this.#bytes!.slice(this.#at, this.#at + this.length);
      this.#at = -1;
    } else if (this.#bytes === null) {
      this.#bytes = encodeFrame(this.#frame!);
      this.#frame = null;
    }
    return this.#bytes;
  }
}

function encodedLength(frame: Frame): number {
  return encodedFrameLength(frame, frame.sequence);
}

/** The bytes of a copy's payload, encoding it if it is not yet. */
export function copyBytes(payload: Uint8Array | LazyEncodedFrame): Uint8Array {
  return payload instanceof LazyEncodedFrame ? payload.bytes : payload;
}

/**
 * How a kept copy is named while it is held: its envelope id, or (for a copy
 * this instance kept, see `KeptIds`) the id's counter, a small integer that
 * costs no string while the copy waits for its device's Ack.
 */
export type EnvelopeRef = string | number;

/** Names the envelope id of a counter (`KeptIds.idOf`). */
export interface EnvelopeNames {
  idOf(counter: number): string;
}

/** A copy of a live-delivered frame on its way to the offline queue. */
export interface PendingCopy {
  readonly envelopeId: string;
  readonly deviceId: string;
  /** The encoded frame, or the frame to encode when written (shared by the copies of one frame). */
  readonly payload: Uint8Array | LazyEncodedFrame;
  /** When it was kept (the clock's milliseconds): its row's delivery and expiry times. */
  readonly keptAt: number;
  /** The connection it was delivered to; null when the device could not take it. */
  connectionId: string | null;
}

/**
 * Where a frame is encoded for its copies: an arena chunk and the offset of
 * the frame in it, or (`at` = -1) the payload itself (bytes, or a
 * {@link LazyEncodedFrame}). See {@link encodeForCopies}.
 */
export interface EncodedPlace {
  bytes: Uint8Array | LazyEncodedFrame;
  at: number;
  length: number;
}

/**
 * Encodes `frame` for its kept copies into `place` (reused by the caller: no
 * object per frame): small frames into the arena at once, larger ones as a
 * {@link LazyEncodedFrame} shared by the copies.
 */
export function encodeForCopies(frame: Frame, arena: FrameArena, place: EncodedPlace): void {
  const length = encodedLength(frame);
  const at = arena.reserve(length);
  if (at < 0) {
    place.bytes = new LazyEncodedFrame(frame);
    place.at = -1;
  } else {
    place.bytes = arena.chunk;
    place.at = at;
    writeFrame(frame, frame.sequence, place.bytes, at);
  }
  place.length = length;
}

/**
 * Kept times are held as ms after this (a small integer, not a boxed
 * number, for ~12 days of uptime; later ones are boxed, and still right).
 */
const KEPT_AT_BASE = Math.floor(Date.now() / 1000) * 1000;

/** The "no error" of a copy that is its own group. */
const NO_ERROR = undefined;

/**
 * A copy as the window holds it; see the module doc. It is its own
 * {@link CopyGroup} (and {@link Durability}) while it is the only copy of
 * its frame; `group` names the group it settles (itself, or a shared one).
 *
 * A copy this instance names by a counter (`ref` a number) holds no id
 * string: the 40+ character id is made from `names` only when the copy is
 * written or carried.
 *
 * It is a thenable (a Durability): never resolve a promise with one, or
 * await it, unless waiting for its settlement is meant.
 */
export class KeptCopy extends Durability implements PendingCopy, CopyGroup {
  readonly ref: EnvelopeRef;
  readonly names: EnvelopeNames | null;
  readonly deviceId: string;
  /** The arena chunk (when {@link #at} ≥ 0), or the payload itself. */
  #bytes: Uint8Array | LazyEncodedFrame;
  #at: number;
  /** The encoded frame's length. */
  readonly length: number;
  /** {@link keptAt} − {@link KEPT_AT_BASE}: a small integer. */
  readonly #keptAt: number;
  connectionId: string | null;
  /** The group it settles: itself, or the group of its frame's copies ({@link KeptCopies.keep}). */
  group: CopyGroup;
  // Its own group's state (CopyGroup), used while `group` is itself.
  remaining = 0;
  listeners: DurabilityListener | { listener: DurabilityListener; token: number }[] | null = null;
  token = 0;
  failed = false;
  error: unknown = NO_ERROR;

  /**
   * `payload`: the encoded frame (or a {@link LazyEncodedFrame}), or with
   * `at` ≥ 0 the arena chunk holding `length` bytes of it from `at`.
   */
  constructor(
    ref: EnvelopeRef,
    names: EnvelopeNames | null,
    deviceId: string,
    payload: Uint8Array | LazyEncodedFrame,
    keptAt: number,
    connectionId: string | null,
    at = -1,
    length = payload.length,
  ) {
    super(null);
    if (typeof ref === "number" && names === null) {
      throw new TypeError("a kept copy named by a counter needs the names of counters");
    }
    this.ref = ref;
    this.names = names;
    this.deviceId = deviceId;
    this.#bytes = payload;
    this.#at = at;
    this.length = at < 0 ? payload.length : length;
    this.#keptAt = keptAt - KEPT_AT_BASE;
    this.connectionId = connectionId;
    this.group = this;
  }

  /** The copy's envelope id (made from its counter when it has one). */
  get envelopeId(): string {
    const ref = this.ref;
    return typeof ref === "string" ? ref : this.names!.idOf(ref);
  }

  /** When it was kept (the clock's milliseconds). */
  get keptAt(): number {
    return this.#keptAt + KEPT_AT_BASE;
  }

  /**
   * The encoded frame (or the frame to encode): from an arena chunk, a copy
   * of its own, made once (whoever takes it, the store, must not pin the chunk).
   */
  get payload(): Uint8Array | LazyEncodedFrame {
    if (this.#at >= 0) {
      this.#bytes = (this.#bytes as Uint8Array).slice(this.#at, this.#at + this.length);
      this.#at = -1;
    }
    return this.#bytes;
  }
}
