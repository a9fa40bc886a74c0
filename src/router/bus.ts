/**
 * The cross-instance bus. A frame for a device connected to another instance
 * is stored durably first (any instance can drain any queue), then the bus
 * tells the holding instance about the new row — carrying the frame itself
 * and its envelope id when it is small ({@link MAX_CARRIED_FRAME}), so that
 * instance delivers it without reading the queue back and deletes the row
 * when the device acknowledges it. Losing a bus message therefore delays a
 * delivery (until the next look at the queue) but never loses it. With the
 * durable-copy window, a frame for a device connected elsewhere is not
 * written first: its copy is held by the sending instance for the window
 * like a local live delivery's (remote_copies.ts). Live-only
 * frames (typing, media) ride the bus on their own: they are never queued.
 *
 * @module
 */

/**
 * New rows in a device's offline queue. With `envelopeId` and `frame` (base64
 * of the encoded frame): the row just written, for the holder to deliver as
 * it is; without: look at the queue.
 */
export interface QueueNotice {
  deviceId: string;
  envelopeId?: string;
  frame?: string;
  /**
   * Set on a copy held in the durable-copy window of the instance named
   * (remote_copies.ts): no row is written yet. The holder delivers it and
   * tells that instance when the device acknowledges it, or stores it
   * itself when it cannot deliver it now.
   */
  origin?: string;
}

/** One copy held by its origin instance, named by the holder of its device. */
export interface KeptCopyRef {
  deviceId: string;
  envelopeId: string;
}

/**
 * What one instance (`from`) tells another about held copies in one
 * event-loop turn (remote_copies.ts): `copies` are held by `from` in its
 * durable-copy window (no row), for the receiver — their devices' holder —
 * to deliver or store, as `offline-queue` notices with `origin`; `acked`
 * and `released` answer for copies the receiver carried to `from`, as
 * `kept-copies`. Carried as bytes over Redis (bus_binary.ts), not JSON.
 */
export interface HeldCopiesMessage {
  kind: "held-copies";
  from: string;
  copies: { deviceId: string; envelopeId: string; frame: Uint8Array }[];
  acked: KeptCopyRef[];
  released: KeptCopyRef[];
}

/** What instances tell each other. */
export type BusMessage =
  | HeldCopiesMessage
  /**
   * New rows in the device's offline queue (`"inbox"` from older instances).
   * With `envelopeId` and `frame` (base64 of the encoded frame): the row just
   * written, for the holder to deliver as it is.
   */
  | ({ kind: "offline-queue" } & QueueNotice)
  /**
   * Several notices for one instance in one message (the rows of one write
   * batch, in row order; at most 256 rows and 512 KiB of frames). Instances
   * older than this message ignore it (their devices' rows are found at the
   * next look at the queue).
   */
  | { kind: "offline-queue-rows"; rows: QueueNotice[] }
  /**
   * To the origin of held copies (notices with `origin`): `acked`, the
   * device acknowledged them or the holder stored them itself (the origin
   * drops or deletes its copy); `released`, the device's connection ended
   * without acknowledging them (the origin writes them now and tells the
   * device's holder).
   */
  | { kind: "kept-copies"; acked: KeptCopyRef[]; released: KeptCopyRef[] }
  /** A live-only frame (Typing, media…) for a device on another instance; base64 of the encoded frame. */
  | { kind: "frame"; deviceId: string; frame: string }
  | { kind: "route"; channel: number; from: string }
  /** A friendship ended: forget cached reachability decisions. */
  | { kind: "reachability" }
  /**
   * Close the device's connection unless it is `connectionId` (empty: close
   * any); `reason` defaults to `replaced` (the device connected again).
   */
  | { kind: "kick"; deviceId: string; connectionId: string; reason?: "replaced" | "revoked" };

/** Largest encoded frame an offline-queue notice carries (bigger: the holder reads the row). */
export const MAX_CARRIED_FRAME = 16 * 1024;

/** Publish/subscribe between the instances sharing one deployment. */
export interface Bus {
  /** Sends `message` to one instance. */
  send(instance: string, message: BusMessage): Promise<void>;
  /** Sends `message` to every instance (including this one). */
  broadcast(message: BusMessage): Promise<void>;
  /** Starts receiving messages addressed to `instance` and broadcasts. */
  subscribe(instance: string, handler: (message: BusMessage) => void): Promise<void>;
  /** True while messages flow (false while reconnecting). */
  readonly healthy: boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The single-instance bus: everything stays in this process. */
export class LocalBus implements Bus {
  readonly healthy = true;
  #handler: ((message: BusMessage) => void) | null = null;
  #instance = "";

  send(instance: string, message: BusMessage): Promise<void> {
    return instance === this.#instance ? this.#deliver(message) : Promise.resolve();
  }

  broadcast(message: BusMessage): Promise<void> {
    return this.#deliver(message);
  }

  /** A throwing handler rejects the promise (as a Redis failure would), never the caller's stack. */
  #deliver(message: BusMessage): Promise<void> {
    try {
      this.#handler?.(message);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  subscribe(instance: string, handler: (message: BusMessage) => void): Promise<void> {
    this.#instance = instance;
    this.#handler = handler;
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#handler = null;
    return Promise.resolve();
  }
}
