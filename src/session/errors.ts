/**
 * Handshake failures. Each becomes a plaintext Error frame
 * `{"error":"handshake","detail":…}` before the connection closes.
 *
 * @module
 */

/** Why a handshake was refused. */
export class HandshakeError extends Error {
  /** Extra keys for the Error frame (e.g. `pairing_required`). */
  readonly extra: Record<string, unknown>;
  /** Short machine reason for logs, metrics and the ledger. */
  readonly reason: string;

  constructor(reason: string, detail: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.name = "HandshakeError";
    this.reason = reason;
    this.extra = extra;
  }
}

/** The device must be paired (or present a certificate) first. */
export function pairingRequired(detail: string): HandshakeError {
  return new HandshakeError("pairing_required", detail, {
    title: "PairingRequired",
    pairing_required: true,
  });
}
