/**
 * The cross-instance bus. Frames themselves never travel on it: a frame for
 * a device connected to another instance is stored durably first (any
 * instance can drain any queue), then the bus tells the holding instance to
 * look at that device's offline queue. Losing a bus message therefore delays
 * a delivery (until the next look at the queue) but never loses it. Only
 * live-only frames (typing, media) ride the bus themselves: they are never
 * queued anyway.
 *
 * @module
 */

/** What instances tell each other. */
export type BusMessage =
  /** New rows in the device's offline queue (`"inbox"` from older instances). */
  | { kind: "offline-queue"; deviceId: string }
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
