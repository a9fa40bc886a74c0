/**
 * Who may put whom into a route.
 *
 * @module
 */
import type { Store } from "../storage/mod.ts";

/** Decides whether `senderDevice` may add `targetDevice` to a route. */
export interface AccessPolicy {
  mayReach(sender: { deviceId: string; userId: string }, targetDevice: string): Promise<boolean>;
}

/**
 * Friendship drives routing (docs/PROTOCOL.md "Reachability"). A device may
 * add an *active* target device when
 *
 * 1. it belongs to the sender's own user, or
 * 2. the two users are friends: each is in the other's friends list (an
 *    accepted friend request puts both there; a one-sided PUT of someone's
 *    id is not consent), or
 * 3. the two devices share a group.
 *
 * Everything else is refused (`forbidden`).
 */
export class FriendsPolicy implements AccessPolicy {
  #store: Store;
  constructor(store: Store) {
    this.#store = store;
  }

  async mayReach(sender: { deviceId: string; userId: string }, target: string): Promise<boolean> {
    const device = await this.#store.getDevice(target);
    if (device === null || device.status !== "active") return false;
    if (device.userId === sender.userId) return true;
    const [mine, theirs] = await Promise.all([
      this.#store.getFriends(sender.userId),
      this.#store.getFriends(device.userId),
    ]);
    if (
      mine.some((e) => e.userId === device.userId) &&
      theirs.some((e) => e.userId === sender.userId)
    ) {
      return true;
    }
    return await this.#store.devicesShareGroup(sender.deviceId, target);
  }
}
