/**
 * CCP-1 frames: the model and the binary codec.
 *
 * ```
 * frame = varint(body_len) body
 * body  = type:u8 varint(channel) varint(sequence) varint(payload_len) payload
 * ```
 *
 * Decoding follows the upstream algorithm step by step, with these choices:
 * - `body_len == 0` throws `EmptyFrame` (upstream reports end-of-input, which
 *   stalls a stream reader forever);
 * - `null` means "need more bytes" and is returned only while the buffer holds
 *   less than the whole length prefix + body. Once the body is complete, a
 *   varint or payload running past its end throws `UnexpectedEof`: waiting for
 *   more bytes could never fix it.
 *
 * @module
 */

import { CodecError } from "./errors.ts";
import { type FrameType, isControlType, isFrameType } from "./frame_type.ts";
import { parseControlJson, stringifyControlJson } from "./json.ts";
import { decodeVarint, readVarint, readVarintEnd, varintLength, writeVarint } from "./varint.ts";

/** Largest body (everything after the length prefix) and largest payload: 16 MiB. */
export const MAX_FRAME_LEN = 16_777_216;
/** Largest control JSON payload: 256 KiB. */
export const MAX_CONTROL_JSON_LEN = 262_144;
/** Largest channel id (u32). */
export const MAX_CHANNEL_ID = 0xffff_ffff;
/** Largest sequence number (u32). */
export const MAX_SEQUENCE = 0xffff_ffff;

/** One CCP-1 frame. `payload` is raw bytes: opaque data or UTF-8 JSON. */
export interface Frame {
  /** Frame type code. */
  type: FrameType;
  /** Channel id, 0 ..= 2^32-1. */
  channel: number;
  /** Sequence number, 0 ..= 2^32-1. */
  sequence: number;
  /** Payload bytes. */
  payload: Uint8Array;
}

/** A decoded frame; for control types `control` holds the parsed JSON payload. */
export interface DecodedFrame extends Frame {
  /** Parsed payload of a control frame (any JSON value); absent for opaque types. */
  control?: unknown;
}

/** Options for {@linkcode decodeFrame}. */
export interface DecodeOptions {
  /**
   * Largest accepted body length, 1 ..= {@linkcode MAX_FRAME_LEN} (the default).
   * A larger length prefix is rejected with `FrameTooLarge` as soon as it is read.
   */
  maxFrameLength?: number;
  /**
   * The payload may be a view of the input instead of a copy (the caller
   * hands the input over and never changes it): taken when that keeps little
   * more than the payload alive (see {@linkcode mayViewPayload}).
   */
  viewPayload?: boolean;
}

/** Input buffers up to this size may always be viewed by a payload. */
const VIEW_SMALL_BUFFER = 2048;

/**
 * Whether a payload of `length` bytes may be a view of `buf` rather than a
 * copy: a view keeps `buf`'s whole ArrayBuffer alive as long as the frame
 * (queued for a slow device, held in the durable-copy window), so only when
 * that buffer is small or at most four times the payload.
 */
export function mayViewPayload(buf: Uint8Array, length: number): boolean {
  const whole = buf.buffer.byteLength;
  return whole <= VIEW_SMALL_BUFFER || whole <= 4 * length;
}

/** A frame decoded from the start of a buffer and the bytes it occupied. */
export interface DecodeResult {
  /** The decoded frame; its payload is a copy, independent of the input buffer (unless `viewPayload`). */
  frame: DecodedFrame;
  /** Length prefix + body length; bytes after this belong to the next frame. */
  consumed: number;
}

/** Validates a maxFrameLength option and returns the effective limit. */
export function resolveMaxFrameLength(maxFrameLength: number | undefined): number {
  if (maxFrameLength === undefined) return MAX_FRAME_LEN;
  if (!Number.isInteger(maxFrameLength) || maxFrameLength < 1 || maxFrameLength > MAX_FRAME_LEN) {
    throw new RangeError(`maxFrameLength must be an integer in 1..=${MAX_FRAME_LEN}`);
  }
  return maxFrameLength;
}

function checkU32(value: number, what: "channel" | "sequence"): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
  if (value > 0xffff_ffff) {
    throw new CodecError(what === "channel" ? "ChannelIdTooLarge" : "SequenceTooLarge");
  }
}

/**
 * Encodes `frame` as `varint(body_len) body`.
 *
 * Throws {@linkcode CodecError}: `InvalidFrameType`, `ChannelIdTooLarge`,
 * `SequenceTooLarge`, `ControlTooLarge` (control type with a payload over
 * 256 KiB), `PayloadTooLarge`, `FrameTooLarge`; `RangeError` for a negative or
 * fractional channel/sequence. The payload is not checked to be JSON.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const out = new Uint8Array(encodedFrameLength(frame, frame.sequence));
  writeFrame(frame, frame.sequence, out, 0);
  return out;
}

/**
 * The encoded length of `frame` sent with sequence `sequence` (in place of
 * its own), after the checks of {@linkcode encodeFrame} (same errors): a
 * frame that passes can be written by {@linkcode writeFrame} without fail.
 */
export function encodedFrameLength(frame: Frame, sequence: number): number {
  const { type, channel, payload } = frame;
  if (!isFrameType(type)) throw new CodecError("InvalidFrameType");
  checkU32(channel, "channel");
  checkU32(sequence, "sequence");
  if (isControlType(type) && payload.length > MAX_CONTROL_JSON_LEN) {
    throw new CodecError("ControlTooLarge");
  }
  if (payload.length > MAX_FRAME_LEN) throw new CodecError("PayloadTooLarge");
  const bodyLength = 1 + varintLength(channel) + varintLength(sequence) +
    varintLength(payload.length) + payload.length;
  if (bodyLength > MAX_FRAME_LEN) throw new CodecError("FrameTooLarge");
  return varintLength(bodyLength) + bodyLength;
}

/**
 * Writes `frame` with sequence `sequence` into `out` at `at` (checked by
 * {@linkcode encodedFrameLength} first; `out` has room); returns the offset
 * just past it. Lets a sender encode frames straight into the buffer it
 * seals and writes, instead of one array per frame.
 */
export function writeFrame(frame: Frame, sequence: number, out: Uint8Array, at: number): number {
  const { channel, payload } = frame;
  const bodyLength = 1 + varintLength(channel) + varintLength(sequence) +
    varintLength(payload.length) + payload.length;
  let offset = writeVarint(bodyLength, out, at);
  out[offset++] = frame.type;
  offset = writeVarint(channel, out, offset);
  offset = writeVarint(sequence, out, offset);
  offset = writeVarint(payload.length, out, offset);
  out.set(payload, offset);
  return offset + payload.length;
}

/**
 * A frame whose payload is the compact JSON encoding of `value` (`bigint`
 * values are written as integers). Throws {@linkcode CodecError}
 * `ControlTooLarge` above 256 KiB, `TypeError` when `value` is not JSON.
 */
export function controlFrame(
  type: FrameType,
  channel: number,
  sequence: number,
  value: unknown,
): Frame {
  const payload = stringifyControlJson(value);
  if (payload.length > MAX_CONTROL_JSON_LEN) throw new CodecError("ControlTooLarge");
  return { type, channel, sequence, payload };
}

/**
 * Reads the length prefix; `null` while it is incomplete. Throws
 * `VarintOverflow`, or `FrameTooLarge` when the body would exceed `max`.
 */
function readLengthPrefix(buf: Uint8Array, max: number): LengthPrefix | null {
  const prefix = decodeVarint(buf, 0);
  if (prefix === null) return null;
  if (prefix.value > max) throw new CodecError("FrameTooLarge");
  return { bodyLength: prefix.value, prefixLength: prefix.length };
}

/** The length prefix at the start of `buf`: body length and prefix size. */
interface LengthPrefix {
  bodyLength: number;
  prefixLength: number;
}

/**
 * Reads a varint that must end inside the body `[offset, end)` (its end:
 * {@linkcode readVarintEnd}).
 */
function bodyVarint(buf: Uint8Array, offset: number, end: number): number {
  const value = readVarint(buf, offset, end);
  if (value === -1) throw new CodecError("UnexpectedEof");
  return value;
}

/** {@linkcode bodyVarint} as a value and length (for {@linkcode withSequence}). */
function bodyVarintRead(buf: Uint8Array, offset: number, end: number) {
  const value = bodyVarint(buf, offset, end);
  return { value, length: readVarintEnd() - offset };
}

/**
 * Decodes the frame at the start of `buf`.
 *
 * Returns `null` when `buf` does not yet hold the whole frame (need more
 * bytes), otherwise the frame and the bytes consumed (prefix + body; bytes in
 * the body after the payload are ignored, as upstream). Throws
 * {@linkcode CodecError} for malformed input, in upstream order: prefix
 * (`VarintOverflow`, `FrameTooLarge`), `EmptyFrame`, `InvalidFrameType`,
 * channel (`ChannelIdTooLarge`), sequence (`SequenceTooLarge`), payload length
 * (`PayloadTooLarge`, `UnexpectedEof`), control payload (`ControlTooLarge`,
 * `InvalidControlJson`).
 */
export function decodeFrame(buf: Uint8Array, options?: DecodeOptions): DecodeResult | null {
  const frame = decodeFrameAt(
    buf,
    0,
    buf.length,
    resolveMaxFrameLength(options?.maxFrameLength),
    options?.viewPayload ?? false,
  );
  return frame === null ? null : { frame, consumed: lastFrameEnd };
}

/** Where the frame the last {@linkcode decodeFrameAt} returned ended. */
let lastFrameEnd = 0;

/**
 * {@linkcode decodeFrame} of the frame at `buf[start..end)` (same checks,
 * same errors; `maxFrameLength` already resolved) for stream decoders: the
 * frame alone, with no result object, no view of the rest of the input and
 * no object per varint; {@linkcode decodedFrameEnd} then gives the offset
 * just past it (read it before the next call).
 */
export function decodeFrameAt(
  buf: Uint8Array,
  start: number,
  end: number,
  maxFrameLength: number,
  viewPayload: boolean,
): DecodedFrame | null {
  const bodyLength = readVarint(buf, start, end);
  if (bodyLength === -1) return null;
  if (bodyLength > maxFrameLength) throw new CodecError("FrameTooLarge");
  if (bodyLength === 0) throw new CodecError("EmptyFrame");
  const bodyStart = readVarintEnd();
  const bodyEnd = bodyStart + bodyLength;
  if (end < bodyEnd) return null;

  const type = buf[bodyStart];
  if (!isFrameType(type)) throw new CodecError("InvalidFrameType");
  const channel = bodyVarint(buf, bodyStart + 1, bodyEnd);
  if (channel > MAX_CHANNEL_ID) throw new CodecError("ChannelIdTooLarge");
  const sequence = bodyVarint(buf, readVarintEnd(), bodyEnd);
  if (sequence > MAX_SEQUENCE) throw new CodecError("SequenceTooLarge");
  const payloadLength = bodyVarint(buf, readVarintEnd(), bodyEnd);
  if (payloadLength > MAX_FRAME_LEN) throw new CodecError("PayloadTooLarge");
  const offset = readVarintEnd();
  const payloadEnd = offset + payloadLength;
  if (payloadEnd > bodyEnd) throw new CodecError("UnexpectedEof");

  const payload = viewPayload && mayViewPayload(buf, payloadLength)
    ? buf.subarray(offset, payloadEnd)
    : buf.slice(offset, payloadEnd);
  lastFrameEnd = bodyEnd;
  if (!isControlType(type)) return { type, channel, sequence, payload };
  if (payloadLength > MAX_CONTROL_JSON_LEN) throw new CodecError("ControlTooLarge");
  // Made whole (not `control` added later): one shape, no property store grown per frame.
  return { type, channel, sequence, payload, control: parseControlJson(payload) };
}

/** The offset just past the frame the last {@linkcode decodeFrameAt} returned. */
export function decodedFrameEnd(): number {
  return lastFrameEnd;
}

/**
 * Re-sequences a frame for forwarding.
 *
 * - Given a frame object: returns a shallow copy with `sequence` replaced; the
 *   payload (and `control`, if any) is shared, not copied.
 * - Given encoded bytes: `encoded` must be exactly one complete frame (as
 *   produced by {@linkcode encodeFrame}). Returns new bytes with only the
 *   sequence varint (and, if its size changes, the length prefix) rewritten;
 *   the payload is copied verbatim and not re-validated. Throws
 *   {@linkcode CodecError} for a malformed header (prefix, type, channel,
 *   sequence) and `RangeError` when bytes follow the frame.
 *
 * Either way `sequence` must be an integer in 0 ..= 2^32-1 (`SequenceTooLarge`
 * above, `RangeError` when negative or fractional).
 */
export function withSequence<F extends Frame>(frame: F, sequence: number): F;
export function withSequence(encoded: Uint8Array, sequence: number): Uint8Array;
export function withSequence(
  input: Frame | Uint8Array,
  sequence: number,
): Frame | Uint8Array {
  checkU32(sequence, "sequence");
  if (!(input instanceof Uint8Array)) return { ...input, sequence };

  const prefix = readLengthPrefix(input, MAX_FRAME_LEN);
  if (prefix === null) throw new CodecError("UnexpectedEof");
  const { bodyLength, prefixLength } = prefix;
  if (bodyLength === 0) throw new CodecError("EmptyFrame");
  const end = prefixLength + bodyLength;
  if (input.length < end) throw new CodecError("UnexpectedEof");
  if (input.length > end) throw new RangeError("withSequence expects exactly one encoded frame");
  if (!isFrameType(input[prefixLength])) throw new CodecError("InvalidFrameType");
  const channel = bodyVarintRead(input, prefixLength + 1, end);
  if (channel.value > MAX_CHANNEL_ID) throw new CodecError("ChannelIdTooLarge");
  const sequenceStart = prefixLength + 1 + channel.length;
  const old = bodyVarintRead(input, sequenceStart, end);
  if (old.value > MAX_SEQUENCE) throw new CodecError("SequenceTooLarge");

  const newBodyLength = bodyLength - old.length + varintLength(sequence);
  if (newBodyLength > MAX_FRAME_LEN) throw new CodecError("FrameTooLarge");
  const newPrefixLength = varintLength(newBodyLength);
  const out = new Uint8Array(newPrefixLength + newBodyLength);
  writeVarint(newBodyLength, out, 0);
  // type byte and channel varint, unchanged
  out.set(input.subarray(prefixLength, sequenceStart), newPrefixLength);
  const offset = writeVarint(sequence, out, newPrefixLength + (sequenceStart - prefixLength));
  out.set(input.subarray(sequenceStart + old.length, end), offset);
  return out;
}
