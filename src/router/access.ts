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
  #domain: string | null;
  /** With `domain`, members `device@other.domain` are judged by {@link mayReachRemote}. */
  constructor(store: Store, options: { domain?: string } = {}) {
    this.#store = store;
    this.#domain = options.domain?.toLowerCase() ?? null;
  }

  async mayReach(sender: { deviceId: string; userId: string }, target: string): Promise<boolean> {
    const at = target.indexOf("@");
    if (this.#domain !== null && at >= 0) {
      const domain = target.slice(at + 1).toLowerCase();
      if (domain !== this.#domain) {
        return at > 0 && await mayReachRemote(this.#store, sender.userId, domain);
      }
    }
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

/**
 * A device of another domain is reachable when the sender's user has a
 * federated friend there: a `handle@domain` entry in its friends list with
 * an accepted friend request between them. Which user owns the remote
 * device only its home server knows, so that server checks the exact pair
 * on receipt (docs/PROTOCOL.md "Federation").
 */
export async function mayReachRemote(
  store: Store,
  userId: string,
  domain: string,
): Promise<boolean> {
  for (const entry of await store.getFriends(userId)) {
    const at = entry.userId.indexOf("@");
    if (at <= 0 || entry.userId.slice(at + 1).toLowerCase() !== domain) continue;
    const [out, back] = await Promise.all([
      store.getFriendRequest(userId, entry.userId),
      store.getFriendRequest(entry.userId, userId),
    ]);
    if (out?.status === "accepted" || back?.status === "accepted") return true;
  }
  return false;
}
