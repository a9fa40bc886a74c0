/**
 * The bounds of the offline queue (#19 §2): per recipient device and per
 * sending user, in frames and payload bytes, from usage figures the store
 * counts (a scan of the rows), each kept a second with this instance's
 * additions since — so a sender near its bound cannot make every frame cost
 * a long count.
 *
 * @module
 */
import type { Store } from "../storage/mod.ts";
import { RouteError } from "./errors.ts";

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

/** Checks frames against an {@link OfflineQueueQuota}. */
export class QuotaGate {
  readonly #quota: OfflineQueueQuota;
  readonly #store: Pick<Store, "offlineQueueUsage">;
  readonly #now: () => number;
  /** Usage figures by `r\0<device>` / `s\0<user>`, each valid for a second. */
  readonly #usage = new Map<string, { frames: number; bytes: number; until: number }>();

  constructor(
    quota: OfflineQueueQuota,
    store: Pick<Store, "offlineQueueUsage">,
    now: () => number,
  ) {
    this.#quota = quota;
    this.#store = store;
    this.#now = now;
  }

  /**
   * The recipients of a frame of `size` bytes over their bound; throws
   * {@link RouteError} `queue_full` when `senderUser` is over its own, or
   * `unavailable` when the store cannot say.
   */
  async overBound(devices: string[], size: number, senderUser: string): Promise<string[]> {
    const quota = this.#quota;
    const now = this.#now();
    // Counting a queue is a scan of its rows: a figure read within the last
    // second (plus what this instance queued since) is used instead, so a
    // sender near its bound cannot make every frame cost a long count.
    const unknown = devices.filter((d) => this.#usageOf(`r\u0000${d}`, now) === undefined);
    const askSender = senderUser !== "" &&
      this.#usageOf(`s\u0000${senderUser}`, now) === undefined;
    if (unknown.length > 0 || askSender) {
      let read;
      try {
        read = await this.#store.offlineQueueUsage(
          unknown,
          askSender ? senderUser : "",
          new Date(now),
        );
      } catch (error) {
        throw new RouteError(
          "unavailable",
          `could not check the offline queue: ${errorText(error)}`,
        );
      }
      for (const d of unknown) {
        this.#rememberUsage(`r\u0000${d}`, read.recipients.get(d) ?? { frames: 0, bytes: 0 }, now);
      }
      if (askSender) this.#rememberUsage(`s\u0000${senderUser}`, read.sender, now);
    }
    const sender = senderUser === "" ? null : this.#usageOf(`s\u0000${senderUser}`, now)!;
    if (
      sender !== null &&
      (sender.frames + devices.length > quota.senderFrames ||
        sender.bytes + devices.length * size > quota.senderBytes)
    ) {
      throw new RouteError(
        "queue_full",
        `you have ${sender.frames} frames (${sender.bytes} bytes) waiting for ` +
          `offline devices, the most allowed is ${quota.senderFrames} frames ` +
          `(${quota.senderBytes} bytes): not queued; retry when they have been delivered`,
      );
    }
    return devices.filter((deviceId) => {
      const held = this.#usageOf(`r\u0000${deviceId}`, now)!;
      return held.frames + 1 > quota.recipientFrames || held.bytes + size > quota.recipientBytes;
    });
  }

  /** A usage figure read less than a second ago (with this instance's additions since). */
  #usageOf(key: string, now: number): { frames: number; bytes: number } | undefined {
    const entry = this.#usage.get(key);
    if (entry === undefined || entry.until <= now) return undefined;
    return entry;
  }

  #rememberUsage(key: string, usage: { frames: number; bytes: number }, now: number): void {
    if (this.#usage.size >= 65_536) this.#usage.clear(); // bounded; a miss only costs a count
    this.#usage.set(key, { frames: usage.frames, bytes: usage.bytes, until: now + 1_000 });
  }

  /** Counts what was just queued into the remembered figures (removals are not: they expire). */
  counted(devices: string[], size: number, senderUser: string): void {
    for (const d of devices) {
      const entry = this.#usage.get(`r\u0000${d}`);
      if (entry) {
        entry.frames++;
        entry.bytes += size;
      }
    }
    const sender = senderUser === "" ? undefined : this.#usage.get(`s\u0000${senderUser}`);
    if (sender) {
      sender.frames += devices.length;
      sender.bytes += devices.length * size;
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
