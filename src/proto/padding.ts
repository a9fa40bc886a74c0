/**
 * Length padding inside the Noise plaintext (capability `pad1`, PROTOCOL.md
 * §2 "Padding"). With `pad1` negotiated, the plaintext of every transport
 * message in both directions is
 *
 * ```
 * frame* [0x00 zero*]
 * ```
 *
 * whole CCP-1 frames (never one split across messages), then optionally a
 * single `0x00` — a zero frame length, which no frame has — and zeros up to
 * the padded size. A message of padding only carries no frame (cover
 * traffic). The policies here decide the padded size; {@link stripPadding}
 * checks and removes it.
 *
 * @module
 */
import { readVarint, readVarintEnd } from "./varint.ts";

/** Hello capability (and Ack `capabilities` entry) of the padded plaintext layout. */
export const PAD1_CAPABILITY = "pad1";

/** Largest Noise transport plaintext (65535 − 16-byte tag): padding never goes beyond it. */
export const MAX_PADDED_PLAINTEXT = 65519;
/** Smallest size class of the `classes` policy. */
export const MIN_PADDED_SIZE = 256;
/** Up to this size the `classes` policy rounds to a power of two; above it, Padmé. */
export const POW2_PADDED_LIMIT = 16 * 1024;
/** Fixed padded size of a voice message (`classes` policy). */
export const VOICE_PADDED_SIZE = 160;

/**
 * How a sender pads: `off` (no `pad1`), `classes` (voice to
 * {@link VOICE_PADDED_SIZE}, else the next power of two from
 * {@link MIN_PADDED_SIZE} up to {@link POW2_PADDED_LIMIT}, Padmé above), or
 * `block` (a multiple of `block` bytes, voice included).
 */
export type PaddingPolicy =
  | { mode: "off" }
  | { mode: "classes" }
  | { mode: "block"; block: number };

/** The default policy of the server and the SDK. */
export const DEFAULT_PADDING: PaddingPolicy = { mode: "classes" };

/** Smallest `block` size. */
export const MIN_PADDING_BLOCK = 16;
/** Largest `block` size. */
export const MAX_PADDING_BLOCK = MAX_PADDED_PLAINTEXT;

/**
 * Parses the text form of a policy: `off`, `classes` or `block:<bytes>`
 * (16..65519). Throws an Error saying what is accepted.
 */
export function parsePaddingPolicy(text: string): PaddingPolicy {
  if (text === "off" || text === "classes") return { mode: text };
  const match = /^block:([0-9]{1,5})$/.exec(text);
  const block = match ? Number(match[1]) : NaN;
  if (block >= MIN_PADDING_BLOCK && block <= MAX_PADDING_BLOCK) return { mode: "block", block };
  throw new Error(
    `expected "off", "classes" or "block:<bytes>" (${MIN_PADDING_BLOCK}..${MAX_PADDING_BLOCK}), ` +
      `got ${JSON.stringify(text)}`,
  );
}

/** The text form {@link parsePaddingPolicy} reads. */
export function paddingPolicyText(policy: PaddingPolicy): string {
  return policy.mode === "block" ? `block:${policy.block}` : policy.mode;
}

/**
 * Padmé (Nikitin et al., PETS 2019): rounds `length` up so that at most
 * O(log log L) bits of it are revealed; overhead ≤ 12%, ~3% above 16 KiB.
 */
export function padme(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const mask = 2 ** lastBits - 1;
  return Math.ceil(length / (mask + 1)) * (mask + 1);
}

/** Smallest power of two ≥ `n` (n ≥ 1). */
function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/**
 * The padded size of a `length`-byte plaintext under `policy`. `voice`:
 * the message carries call audio (a VoiceFrame; an Ack may ride along). The result leaves
 * room for the end marker, except that a plaintext already at
 * {@link MAX_PADDED_PLAINTEXT} stays as it is (it needs none).
 */
export function paddedLength(length: number, policy: PaddingPolicy, voice = false): number {
  if (policy.mode === "off" || length >= MAX_PADDED_PLAINTEXT) return length;
  const needed = length + 1; // the 0x00 end marker
  let size: number;
  if (policy.mode === "block") {
    size = Math.ceil(needed / policy.block) * policy.block;
  } else if (voice && needed <= VOICE_PADDED_SIZE) {
    size = VOICE_PADDED_SIZE;
  } else if (needed <= MIN_PADDED_SIZE) {
    size = MIN_PADDED_SIZE;
  } else if (needed <= POW2_PADDED_LIMIT) {
    size = nextPowerOfTwo(needed);
  } else {
    size = padme(needed);
  }
  return Math.min(size, MAX_PADDED_PLAINTEXT);
}

/**
 * True when `size` is one of `policy`'s plaintext sizes: what an observer of
 * padded messages can see (tests and the load tool check captures with it).
 */
export function isPaddedSize(size: number, policy: PaddingPolicy): boolean {
  if (policy.mode === "off") return true;
  if (size === MAX_PADDED_PLAINTEXT) return true;
  if (policy.mode === "block") return size > 0 && size % policy.block === 0;
  if (size === VOICE_PADDED_SIZE) return true;
  if (size < MIN_PADDED_SIZE) return false;
  if (size <= POW2_PADDED_LIMIT) return Number.isInteger(Math.log2(size));
  return padme(size) === size;
}

/** The message's plaintext (whole frames) padded under `policy`: a copy, zero-filled. */
export function padPlaintext(
  plaintext: Uint8Array,
  policy: PaddingPolicy,
  voice = false,
): Uint8Array {
  const size = paddedLength(plaintext.length, policy, voice);
  if (size === plaintext.length) return plaintext;
  const out = new Uint8Array(size);
  out.set(plaintext);
  return out;
}

/** Why a padded plaintext was refused (PROTOCOL.md §2 "Padding"). */
export type PaddingErrorKind = "FrameCrossesEnd" | "NonZeroPadding";

const PADDING_ERROR_MESSAGES: Readonly<Record<PaddingErrorKind, string>> = {
  FrameCrossesEnd: "padding: a frame's length runs past the end of its transport message",
  NonZeroPadding: "padding: a non-zero byte after the end marker",
};

/** A padded plaintext that breaks the layout; the message never echoes input bytes. */
export class PaddingError extends Error {
  /** What went wrong, as a stable tag. */
  readonly kind: PaddingErrorKind;

  /** Creates the error for `kind` with its fixed message. */
  constructor(kind: PaddingErrorKind) {
    super(PADDING_ERROR_MESSAGES[kind]);
    this.name = "PaddingError";
    this.kind = kind;
  }
}

/**
 * The frames of a padded plaintext (a view, no copy): everything before the
 * end marker, or the whole plaintext when it ends exactly after a frame.
 * Throws {@link PaddingError} when a frame's length runs past the end (a
 * length that lies, or a frame split across messages) or a byte after the
 * marker is not zero; a varint longer than 10 bytes throws its CodecError.
 * Frame contents are not checked here: the frame decoder does that.
 */
export function stripPadding(plaintext: Uint8Array): Uint8Array {
  const end = paddedFramesEnd(plaintext);
  return end === plaintext.length ? plaintext : plaintext.subarray(0, end);
}

/**
 * Where the frames of a padded plaintext end ({@linkcode stripPadding}'s
 * length, same checks and errors), for a decoder that takes a range: no
 * view per message. The plaintext is `plaintext[0..length)` (e.g. one
 * decrypted in place, its tag still behind it).
 */
export function paddedFramesEnd(plaintext: Uint8Array, length = plaintext.length): number {
  const end = length;
  let pos = 0;
  while (pos < end) {
    if (plaintext[pos] === 0) {
      for (let i = pos + 1; i < end; i++) {
        if (plaintext[i] !== 0) throw new PaddingError("NonZeroPadding");
      }
      return pos;
    }
    const length = readVarint(plaintext, pos, end);
    if (length === -1 || end - readVarintEnd() < length) {
      throw new PaddingError("FrameCrossesEnd");
    }
    pos = readVarintEnd() + length;
  }
  return end;
}
