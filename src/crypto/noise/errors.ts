/**
 * The single error type of the Noise implementation. Messages never contain
 * key material; `code` lets callers branch without parsing text.
 *
 * @module
 */

/** Machine-readable reason for a {@linkcode NoiseError}. */
export type NoiseErrorCode =
  /** The protocol name names a pattern, modifier or primitive we do not implement. */
  | "unsupported-protocol"
  /** A caller-supplied value has the wrong length or shape. */
  | "invalid-argument"
  /** A call that the current state does not allow (wrong turn, finished, failed). */
  | "invalid-state"
  /** A key the pattern needs (s, rs, psk) was not supplied. */
  | "missing-key"
  /** A Noise message or transport payload exceeds 65535 bytes. */
  | "message-too-long"
  /** A received message is shorter than its tokens require. */
  | "message-too-short"
  /** AEAD authentication failed: the message was tampered with or keys differ. */
  | "decrypt-failed"
  /** The nonce reached 2^64-1, which Noise reserves; the CipherState is spent. */
  | "nonce-exhausted"
  /** A DH produced the all-zero output (low-order public key). */
  | "invalid-public-key";

/** Error thrown for every Noise failure. */
export class NoiseError extends Error {
  /** Why the operation failed. */
  readonly code: NoiseErrorCode;

  constructor(code: NoiseErrorCode, message: string) {
    super(message);
    this.name = "NoiseError";
    this.code = code;
  }
}
