/**
 * The router's view of one live, authenticated connection.
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";

/** Where a delivered frame came from, so an ack can settle it. */
export interface DeliveryOrigin {
  /** Set when the frame came out of the durable offline queue. */
  envelopeId?: string;
}

/** A live connection of one device. */
export interface Peer {
  readonly deviceId: string;
  readonly userId: string;
  /** Unique per connection (a device may reconnect; ids never repeat). */
  readonly connectionId: string;
  /**
   * Queues `frame` to the device; the peer assigns the sequence. Returns false
   * when the peer can no longer take frames (closed or over its bound), in
   * which case the caller must keep the frame durable itself.
   */
  deliver(frame: Frame, origin?: DeliveryOrigin): boolean;
  /** Asks the peer to look at its offline queue again (new rows may exist). */
  kickInbox(): void;
}
