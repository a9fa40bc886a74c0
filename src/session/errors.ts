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

/**
 * A known device presented another device key without a certificate for it.
 * The Error frame names the reason (`"reason":"key_mismatch"`, PROTOCOL.md §3)
 * so a client can tell it from other refusals without parsing the detail.
 */
export function keyMismatch(): HandshakeError {
  return new HandshakeError(
    "key_mismatch",
    "device key differs from the registered one; present a certificate for the new key",
    { reason: "key_mismatch" },
  );
}

/** The device must be paired (or present a certificate) first. */
export function pairingRequired(detail: string): HandshakeError {
  return new HandshakeError("pairing_required", detail, {
    title: "PairingRequired",
    pairing_required: true,
  });
}
