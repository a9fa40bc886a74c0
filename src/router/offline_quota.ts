/**
 * The bounds of the offline queue (#19 §2): per recipient device and per
 * sending user, in frames and payload bytes, from usage figures the store
 * counts (a scan of the rows), each kept a second with this instance's
 * additions since — so a sender near its bound cannot make every frame cost
 * a long count. The figures a frame needs are read before its turn in the
 * queue's call order ({@link QuotaGate.prepare}), one read at a time: keys
 * asked for while a read is out share the next one, so a busy instance pays
 * one store round trip per read for every sender and recipient it has not
 * counted within the second, not one per frame in series.
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

/** Usage figures to read together (see {@link QuotaGate.prepare}). */
interface UsageBatch {
  devices: Set<string>;
  senders: Set<string>;
  /** Starts the read (once the read before it ended). */
  start: () => void;
  /** Settles when the figures are remembered. */
  read: Promise<void>;
}

/** Checks frames against an {@link OfflineQueueQuota}. */
export class QuotaGate {
  readonly #quota: OfflineQueueQuota;
  readonly #store: Pick<Store, "offlineQueueUsage">;
  readonly #now: () => number;
  /** Usage figures by `r\0<device>` / `s\0<user>`, each valid for a second. */
  readonly #usage = new Map<string, { frames: number; bytes: number; until: number }>();
  /** Keys being read (or gathered for the next read), with the read that fills them. */
  readonly #pending = new Map<string, Promise<void>>();
  /** Keys gathered while a read is out: the next read. */
  #gathering: UsageBatch | null = null;
  /** The read out now, null when none. */
  #reading: Promise<void> | null = null;

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
   * Reads the usage figures of `devices` and `senderUser` that are not
   * remembered (and not being read already); resolves once each is. A read
   * starts at once when none is out, else the keys join the next one, which
   * starts when the current one ends. Rejects with {@link RouteError}
   * `unavailable` when the store cannot say.
   */
  prepare(devices: readonly string[], senderUser: string): Promise<void> {
    const now = this.#now();
    const waits = new Set<Promise<void>>();
    const want = (key: string, add: (batch: UsageBatch) => void) => {
      if (this.#usageOf(key, now) !== undefined) return;
      let read = this.#pending.get(key);
      if (read === undefined) {
        const batch = this.#gathering ??= this.#newBatch();
        add(batch);
        read = batch.read;
        this.#pending.set(key, read);
      }
      waits.add(read);
    };
    for (const d of devices) want(`r\u0000${d}`, (b) => b.devices.add(d));
    if (senderUser !== "") want(`s\u0000${senderUser}`, (b) => b.senders.add(senderUser));
    if (this.#reading === null) this.#gathering?.start();
    if (waits.size === 0) return Promise.resolve();
    return waits.size === 1 ? [...waits][0] : Promise.all(waits).then(() => {});
  }

  #newBatch(): UsageBatch {
    let start!: () => void;
    const started = new Promise<void>((resolve) => (start = resolve));
    const batch: UsageBatch = {
      devices: new Set(),
      senders: new Set(),
      start,
      read: started.then(() => this.#read(batch)),
    };
    batch.read.catch(() => {}); // its waiters see the failure
    return batch;
  }

  /** Reads one gathered batch; the next one starts when it ends. */
  async #read(batch: UsageBatch): Promise<void> {
    if (this.#gathering === batch) this.#gathering = null;
    const now = this.#now();
    const devices = [...batch.devices];
    const senders = [...batch.senders];
    const reading = Promise.all([
      // Every recipient in one query (with the first sender), other senders alongside.
      this.#store.offlineQueueUsage(devices, senders[0] ?? "", new Date(now)),
      ...senders.slice(1).map((s) => this.#store.offlineQueueUsage([], s, new Date(now))),
    ]);
    this.#reading = reading.then(() => {}, () => {});
    try {
      const reads = await reading;
      for (const d of devices) {
        const usage = reads[0].recipients.get(d) ?? { frames: 0, bytes: 0 };
        this.#rememberUsage(`r\u0000${d}`, usage, now);
      }
      senders.forEach((s, i) => this.#rememberUsage(`s\u0000${s}`, reads[i].sender, now));
    } catch (error) {
      throw new RouteError("unavailable", `could not check the offline queue: ${errorText(error)}`);
    } finally {
      for (const d of devices) this.#pending.delete(`r\u0000${d}`);
      for (const s of senders) this.#pending.delete(`s\u0000${s}`);
      this.#reading = null;
      this.#gathering?.start();
    }
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
