/**
 * Who may put whom into a route. The accounts work replaces the interim rule
 * with friendship; the seam stays the same.
 *
 * @module
 */
import type { Store } from "../storage/mod.ts";

/** Decides whether `senderDevice` may add `targetDevice` to a route. */
export interface AccessPolicy {
  mayReach(sender: { deviceId: string; userId: string }, targetDevice: string): Promise<boolean>;
}

/**
 * Interim rule (until friends exist): a device may add its own user's devices,
 * and any other active device of this server. Documented in docs/PROTOCOL.md.
 */
export class ActiveDevicePolicy implements AccessPolicy {
  #store: Store;
  constructor(store: Store) {
    this.#store = store;
  }

  async mayReach(_sender: { deviceId: string; userId: string }, target: string): Promise<boolean> {
    const device = await this.#store.getDevice(target);
    return device !== null && device.status === "active";
  }
}
