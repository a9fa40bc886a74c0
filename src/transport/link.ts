/**
 * A `Link` is the downstream half of a `/connect` connection as the session
 * sees it: units go out, the mode decides how they look on the wire.
 *
 * @module
 */
import type { ConnectMode } from "./mode.ts";

/** Clear header of a plaintext handshake frame (long-poll lines expose it). */
export interface UnitHeader {
  channel: number;
  sequence: number;
  type: string;
}

/** Downstream of one connection. */
export interface Link {
  readonly mode: ConnectMode;
  /**
   * Sends one unit: a plaintext CCP-1 frame during the handshake (with its
   * header) or `varint(len) || ciphertext` afterwards (header null).
   */
  send(unit: Uint8Array, header: UnitHeader | null): void;
  /**
   * True when {@link send} copies the bytes before it returns (a WebSocket
   * message): the caller may then reuse the buffer it passed, e.g. one
   * scratch buffer for every write. Absent: the link keeps what it was given.
   */
  readonly copiesOnSend?: boolean;
  /** Bytes handed to the link that the peer has not taken yet. */
  readonly backlogBytes: number;
  /** True once the peer or the server closed the link. */
  readonly closed: boolean;
  /** Closes the downstream (idempotent). */
  close(): void;
  /**
   * Closes a link whose peer may be stalled in the middle of a message (a
   * timed-out handshake or frame), where a polite close would wait on that
   * peer for ever. Links without such a wait do what {@link close} does.
   */
  abort?(): void;
}
