/**
 * The offline queue: frames kept durably for a device until it acknowledges
 * them. Its one owner: the router enqueues, sessions requeue what a device
 * never acknowledged, load and settle while they drain it, the background job
 * purges expired rows, metrics count them, and whoever holds the device's
 * connection — here or on another instance — is notified of new rows.
 *
 * (Older code called it "inbox" or "relay"; the storage table keeps
 * its name `relay_queue`, the metrics their upstream `commucat_relay_*` names.)
 *
 * @module
 */
import { encodeFrame, type Frame, isQueuedFrameType } from "../proto/mod.ts";
import type { OfflineEnvelope, Store, StoredEnvelope } from "../storage/mod.ts";
import type { Bus } from "./bus.ts";
import { RouteError } from "./errors.ts";
import type { Presence } from "./presence.ts";
import type { PeerRegistry } from "./registry.ts";

/** The store operations the offline queue is built on. */
export type OfflineQueueStore = Pick<
  Store,
  | "enqueueOffline"
  | "loadOfflineQueue"
  | "deleteOffline"
  | "purgeExpiredOffline"
  | "countOfflineTotal"
  | "offlineQueueUsage"
>;

/**
 * Bounds of the offline queue (`limits.offline_queue_*`): what one device's
 * queue may hold, and what one sending user may have waiting in all queues
 * together. Counted over unexpired rows; concurrent senders may overshoot a
 * bound by the frames they had in flight.
 */
export interface OfflineQueueQuota {
  recipientFrames: number;
  recipientBytes: number;
  senderFrames: number;
  senderBytes: number;
}

/** Dependencies of the offline queue. */
export interface OfflineQueueOptions {
  store: OfflineQueueStore;
  /** Live peers of this instance (told to look at their queue). */
  registry: PeerRegistry;
  /** Finds the instance holding a device connected elsewhere. */
  presence: Presence;
  bus: Bus;
  instanceId: string;
  /** How long a queued frame waits before it expires (`limits.relay_ttl`). */
  ttlSeconds: number;
  /** Absent: unbounded (tests). */
  quota?: OfflineQueueQuota;
  newId: (context: string) => string;
  now?: () => number;
}

/** Counters the offline queue keeps for metrics. */
export interface OfflineQueueStats {
  /** Frame copies stored (one per recipient device). */
  enqueued: number;
}

/** The durable per-device queue of frames not yet acknowledged. */
export class OfflineQueue {
  readonly stats: OfflineQueueStats = { enqueued: 0 };
  readonly #o: OfflineQueueOptions;
  readonly #now: () => number;

  constructor(options: OfflineQueueOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Stores `frame` for `devices` (atomically), then notifies any that came
   * online meanwhile. `senderUser` names the user whose frame it is (empty:
   * the server's own); the quota applies to every recipient, and to the
   * sender when named.
   *
   * Throws {@link RouteError}: `unavailable` when the store fails (nothing
   * stored; the sender must not be acknowledged); `queue_full` when the
   * sender is over its bound (nothing stored) or some recipients are over
   * theirs (stored for the others, not for those, which the error names).
   */
  async enqueue(devices: string[], frame: Frame, senderUser = ""): Promise<void> {
    if (devices.length === 0) return;
    const payload = encodeFrame(frame);
    const full = this.#o.quota ? await this.#overQuota(devices, payload.length, senderUser) : [];
    const admitted = full.length === 0 ? devices : devices.filter((d) => !full.includes(d));
    await this.#store(admitted, payload, senderUser);
    if (full.length > 0) {
      const named = full.slice(0, 5).map((d) => JSON.stringify(d)).join(", ");
      throw new RouteError(
        "queue_full",
        `the offline queue of ${full.length} recipient(s) is full (${named}${
          full.length > 5 ? ", …" : ""
        }): not queued for them` + (admitted.length > 0 ? "; queued for the others" : ""),
      );
    }
  }

  /**
   * Puts a frame a device never acknowledged back into its queue (connection
   * lost or cut off). Its sender was acknowledged already, so no quota
   * applies. Live-only types (typing, media…) are dropped.
   */
  async requeue(deviceId: string, frame: Frame): Promise<void> {
    if (isQueuedFrameType(frame.type)) await this.#store([deviceId], encodeFrame(frame), "");
  }

  /** The recipients over their bound; throws `queue_full` when the sender is over its own. */
  async #overQuota(devices: string[], size: number, senderUser: string): Promise<string[]> {
    const quota = this.#o.quota!;
    let usage;
    try {
      usage = await this.#o.store.offlineQueueUsage(devices, senderUser, new Date(this.#now()));
    } catch (error) {
      throw new RouteError("unavailable", `could not check the offline queue: ${errorText(error)}`);
    }
    if (
      senderUser !== "" &&
      (usage.sender.frames + devices.length > quota.senderFrames ||
        usage.sender.bytes + devices.length * size > quota.senderBytes)
    ) {
      throw new RouteError(
        "queue_full",
        `you have ${usage.sender.frames} frames (${usage.sender.bytes} bytes) waiting for ` +
          `offline devices, the most allowed is ${quota.senderFrames} frames ` +
          `(${quota.senderBytes} bytes): not queued; retry when they have been delivered`,
      );
    }
    return devices.filter((deviceId) => {
      const held = usage.recipients.get(deviceId) ?? { frames: 0, bytes: 0 };
      return held.frames + 1 > quota.recipientFrames || held.bytes + size > quota.recipientBytes;
    });
  }

  async #store(devices: string[], payload: Uint8Array, senderUser: string): Promise<void> {
    if (devices.length === 0) return;
    const now = this.#now();
    const envelopes: OfflineEnvelope[] = devices.map((deviceId) => ({
      envelopeId: this.#o.newId(`envelope:${deviceId}`),
      deviceId,
      payload,
      deliverAfter: new Date(now),
      expiresAt: new Date(now + this.#o.ttlSeconds * 1000),
      senderUser,
    }));
    try {
      await this.#o.store.enqueueOffline(envelopes);
    } catch (error) {
      throw new RouteError(
        "unavailable",
        `could not store the frame for offline members: ${errorText(error)}`,
      );
    }
    this.stats.enqueued += envelopes.length;
    // A device that connected while we were writing may have drained its
    // queue already: tell it to look again.
    await this.notify(devices);
  }

  /**
   * Oldest-first frames of `deviceId` deliverable now, after `afterPosition`
   * when given. Reading does not remove them: {@link settle} does.
   */
  load(
    deviceId: string,
    options: { limit: number; afterPosition?: bigint },
  ): Promise<StoredEnvelope[]> {
    return this.#o.store.loadOfflineQueue(deviceId, { ...options, now: new Date(this.#now()) });
  }

  /** Removes the rows `envelopeIds` of `deviceId`: the device acknowledged them. */
  async settle(deviceId: string, envelopeIds: string[]): Promise<void> {
    if (envelopeIds.length > 0) await this.#o.store.deleteOffline(deviceId, envelopeIds);
  }

  /** Removes expired rows of every device; returns how many went. */
  purge(): Promise<number> {
    return this.#o.store.purgeExpiredOffline(new Date(this.#now()));
  }

  /** Rows waiting in every queue (metrics gauge). */
  count(): Promise<number> {
    return this.#o.store.countOfflineTotal();
  }

  /**
   * Tells whoever holds each device's connection to look at its queue: the
   * local peer directly, another instance through the bus. Never throws: a
   * lost notice only delays delivery until the next look (reconnect, the
   * periodic look while the bus is down).
   */
  async notify(devices: string[]): Promise<void> {
    const remote: Promise<void>[] = [];
    for (const deviceId of devices) {
      const local = this.#o.registry.get(deviceId);
      if (local) local.checkOfflineQueue();
      else remote.push(this.#notifyHolder(deviceId));
    }
    // One presence look-up per recipient, all at once (a group fan-out must
    // not pay them one after another).
    if (remote.length > 0) await Promise.all(remote);
  }

  async #notifyHolder(deviceId: string): Promise<void> {
    // Presence or bus down: the notice is lost, the frame is not (see notify).
    const entry = await this.#o.presence.get(deviceId).catch(() => null);
    if (entry && entry.instance !== this.#o.instanceId) {
      await this.#o.bus.send(entry.instance, { kind: "offline-queue", deviceId }).catch(() => {
        // Same: the receiver looks again on its own when its bus recovers.
      });
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
