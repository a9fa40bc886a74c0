/**
 * Errors of the end-to-end layer. `code` is stable (tests and UIs switch on it); the message
 * is for people and never contains key material.
 *
 * @module
 */

/** Why something end-to-end was refused. */
export type E2EErrorCode =
  | "bad_key_package"
  | "wrong_signer"
  | "unknown_device"
  | "no_group"
  | "not_for_us"
  | "replayed_welcome"
  | "bad_message"
  | "wrong_group"
  | "stale_epoch"
  | "not_committer"
  | "removed"
  | "directory";

/** A refused key package, Welcome, commit or message. */
export class E2EError extends Error {
  readonly code: E2EErrorCode;
  constructor(code: E2EErrorCode, message: string) {
    super(message);
    this.name = "E2EError";
    this.code = code;
  }
}
