/**
 * Live connections by device id. A newer connection of the same device
 * replaces the older one; removal only removes the exact connection given
 * (the upstream removed whichever was registered — §6.8).
 *
 * @module
 */
import type { Peer } from "./peer.ts";

/** Registry of live peers on this instance. */
export class PeerRegistry {
  #byDevice = new Map<string, Peer>();
  #onRemove: ((peer: Peer) => void)[] = [];

  /** Calls `listener` after a device's registered connection is removed (it disconnected). */
  onRemove(listener: (peer: Peer) => void): void {
    this.#onRemove.push(listener);
  }

  /** Registers `peer`, returning the connection it replaced, if any. */
  add(peer: Peer): Peer | undefined {
    const previous = this.#byDevice.get(peer.deviceId);
    this.#byDevice.set(peer.deviceId, peer);
    return previous && previous.connectionId !== peer.connectionId ? previous : undefined;
  }

  /** Removes `peer` if it is still the registered connection of its device. */
  remove(peer: Peer): boolean {
    const current = this.#byDevice.get(peer.deviceId);
    if (current?.connectionId !== peer.connectionId) return false;
    this.#byDevice.delete(peer.deviceId);
    for (const listener of this.#onRemove) listener(peer);
    return true;
  }

  /** The live peer of a device on this instance. */
  get(deviceId: string): Peer | undefined {
    return this.#byDevice.get(deviceId);
  }

  /** Number of live connections. */
  get size(): number {
    return this.#byDevice.size;
  }

  /** All live peers (snapshot). */
  all(): Peer[] {
    return [...this.#byDevice.values()];
  }
}
