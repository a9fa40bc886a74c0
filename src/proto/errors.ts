/**
 * The typed error raised by the CCP-1 codec.
 *
 * @module
 */

/** Every way a CCP-1 frame can fail to encode or decode. */
export type CodecErrorKind =
  | "UnexpectedEof"
  | "VarintOverflow"
  | "FrameTooLarge"
  | "InvalidFrameType"
  | "ChannelIdTooLarge"
  | "SequenceTooLarge"
  | "PayloadTooLarge"
  | "ControlTooLarge"
  | "InvalidControlJson"
  | "EmptyFrame";

/** Display string of each kind; the upstream strings except `EmptyFrame`, which is ours. */
export const CODEC_ERROR_MESSAGES: Readonly<Record<CodecErrorKind, string>> = {
  UnexpectedEof: "unexpected end of frame",
  VarintOverflow: "varint overflow",
  FrameTooLarge: "frame exceeds limits",
  InvalidFrameType: "invalid frame type",
  ChannelIdTooLarge: "channel id exceeds limits",
  SequenceTooLarge: "sequence exceeds limits",
  PayloadTooLarge: "payload exceeds limits",
  ControlTooLarge: "control payload exceeds limits",
  InvalidControlJson: "invalid control payload",
  EmptyFrame: "empty frame",
};

/**
 * A frame that cannot be encoded, or bytes that are not a valid frame.
 * The message is the fixed display string of `kind`; it never echoes input bytes.
 */
export class CodecError extends Error {
  /** What went wrong, as a stable machine-readable tag. */
  readonly kind: CodecErrorKind;

  /** Creates the error for `kind` with its display string as the message. */
  constructor(kind: CodecErrorKind) {
    super(CODEC_ERROR_MESSAGES[kind]);
    this.name = "CodecError";
    this.kind = kind;
  }
}

/** True when `error` is a {@linkcode CodecError}, optionally of the given kind. */
export function isCodecError(error: unknown, kind?: CodecErrorKind): error is CodecError {
  return error instanceof CodecError && (kind === undefined || error.kind === kind);
}
