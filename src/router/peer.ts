/**
 * The router's view of one live, authenticated connection.
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";
import type { EnvelopeRef } from "./kept_copies.ts";

/** Where a delivered frame came from, so an ack can settle it. */
export interface DeliveryOrigin {
  /**
   * The frame's durable copy in the offline queue, deleted when the device
   * acknowledges it: its envelope id, or the counter of a copy this instance
   * kept (`OfflineQueue.keep`; no string per delivery).
   */
  envelopeId?: EnvelopeRef;
  /**
   * Set when the device's own drain read the frame from its offline queue: a
   * peer over its bound refuses it (it stays queued, read again later)
   * instead of closing as a slow consumer.
   */
  fromQueue?: boolean;
}

/**
 * Why a live connection is closed by someone other than its own session:
 *
 * - `replaced`: the same device connected again (here or on another instance);
 * - `shutdown`: the server is stopping;
 * - `revoked`: the device was revoked;
 * - `slow`: the client does not read (its outbound bound is exceeded).
 *
 * The session tells the client why where the protocol has an Error code for it
 * (`replaced`, `shutdown`; docs/PROTOCOL.md §4).
 */
export type PeerCloseReason = "replaced" | "shutdown" | "revoked" | "slow";

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
  /**
   * True when a live-only media frame may be delivered now without bringing
   * the connection near its outbound bound (call media waits or is dropped
   * instead of getting a slow reader closed). Absent: always true.
   */
  hasRoomForMedia?(): boolean;
  /**
   * {@link hasRoomForMedia} and {@link deliver} of a live-only media frame in
   * one step (the bounds are looked at once): true when it was queued to the
   * device, false when it has to wait (no room now, or the connection is no
   * longer established). Absent: the SFU asks hasRoomForMedia, then delivers.
   */
  deliverMedia?(frame: Frame): boolean;
  /** Asks the peer to look at its offline queue again (new rows may exist). */
  checkOfflineQueue(): void;
  /**
   * The offline-queue row `envelopeId` (the encoded frame `payload`) was just
   * written for this device: deliver it as that row (deleted on the device's
   * ack) when the queue is caught up, else look at the queue. Returns true
   * when it was delivered as carried, false when the queue is read instead.
   * Absent: the caller falls back to {@link checkOfflineQueue}.
   */
  takeQueued?(envelopeId: string, payload: Uint8Array): boolean;
  /** Publishes the device as online here again (the presence store may have lost it). */
  refreshPresence(): void;
  /** Closes the connection; unacknowledged frames go back to the offline queue. */
  close(reason: PeerCloseReason): void;
}
