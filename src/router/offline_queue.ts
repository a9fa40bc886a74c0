/**
 * The offline queue: frames kept durably for a device until it acknowledges
 * them. Its one owner: the router enqueues, sessions requeue what a device
 * never acknowledged, load and settle while they drain it, the background job
 * purges expired rows, metrics count them, and whoever holds the device's
 * connection — here or on another instance — is notified of new rows.
 *
 * A frame delivered live is kept here too until the device acknowledges it
 * ({@link OfflineQueue.keep}): held for the durable-copy window
 * (kept_copies.ts) and written only if the device has not acknowledged it by
 * then, with the queue's next group-committed write (offline_writes.ts); the
 * sender's Ack waits for the acknowledgement or the write, so an
 * acknowledged frame survives a crash of the server (PROTOCOL.md §4).
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
import {
  type Durability,
  KeptCopies,
  type KeptCopiesLimits,
  type KeptCopiesStats,
  type PendingCopy,
  SYSTEM_CLOCK,
  type WindowClock,
} from "./kept_copies.ts";
import type { Presence } from "./presence.ts";
import { type OfflineQueueQuota, QuotaGate } from "./offline_quota.ts";
import type { PeerRegistry } from "./registry.ts";
import { notifyHolders } from "./offline_notices.ts";
import { OfflineWrites, type WrittenBatch } from "./offline_writes.ts";

export type { OfflineQueueQuota };

/** The store operations the offline queue is built on. */
export type OfflineQueueStore = Pick<
  Store,
  | "enqueueOffline"
  | "loadOfflineQueue"
  | "deleteOffline"
  | "purgeExpiredOffline"
  | "countOfflineTotal"
  | "offlineQueueUsage"
  | "writeOfflineBatch"
>;

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
  /**
   * The durable-copy window, ms (`router.durable_copy_delay_ms`): a live
   * delivery's copy is written only if not acknowledged within it. 0 (the
   * default here) = written with the batch of the turn it was kept in.
   */
  durableCopyDelayMs?: number;
  /** Bounds of the copies held in the window. */
  keptLimits?: KeptCopiesLimits;
  /** The window's clock and timer (tests); its `now` is the queue's unless `now` is given. */
  clock?: WindowClock;
}

/** Counters the offline queue keeps for metrics. */
export interface OfflineQueueStats {
  /** Frame copies stored for devices that were not reached live (one per recipient device). */
  enqueued: number;
  /** Copies of live-delivered frames written until acknowledged. */
  kept: number;
  /** Batches of kept copies the store failed to write (their senders got `unavailable`). */
  keepFailures: number;
}

/** The durable per-device queue of frames not yet acknowledged. */
export class OfflineQueue {
  readonly stats: OfflineQueueStats = { enqueued: 0, kept: 0, keepFailures: 0 };
  readonly #o: OfflineQueueOptions;
  readonly #now: () => number;
  readonly #quota: QuotaGate | null;
  /** Copies of live deliveries held for the durable-copy window. */
  readonly #window: KeptCopies;
  /** Every write of the queue: enqueued rows, kept copies and removals, group-committed. */
  readonly #writes: OfflineWrites;
  /** The notices of the latest write (sent one write after another, so in row order). */
  #notifying: Promise<void> = Promise.resolve();
  /** The quota check of the latest enqueue (see {@link #admit}), null once settled. */
  #admitting: Promise<unknown> | null = null;
  readonly #keptIdPrefix = `kept-${crypto.randomUUID()}-`;
  #keptIds = 0;

  constructor(options: OfflineQueueOptions) {
    this.#o = options;
    const clock = options.clock ?? SYSTEM_CLOCK;
    this.#now = options.now ?? clock.now;
    this.#quota = options.quota ? new QuotaGate(options.quota, options.store, this.#now) : null;
    this.#window = new KeptCopies({
      delayMs: options.durableCopyDelayMs ?? 0,
      ...options.keptLimits,
      clock: options.now ? { ...clock, now: options.now } : clock,
      write: (copies) => this.#writeKept(copies),
    });
    this.#writes = new OfflineWrites(
      options.store,
      (batch) => this.#written(batch),
      (keptCopies) => {
        if (keptCopies > 0) this.stats.keepFailures++;
      },
    );
  }

  /** Counters of the durable-copy window. */
  get windowStats(): Readonly<KeptCopiesStats> {
    return this.#window.stats;
  }

  /** Copies of live deliveries held in the durable-copy window now. */
  get heldCopies(): number {
    return this.#window.size;
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
    const full = this.#quota ? await this.#admit(this.#quota, devices, payload, senderUser) : [];
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
   * The quota check of one enqueue, after the checks of the enqueues called
   * before it: a sender's session does not wait for its frame to be stored
   * before routing the next (Router), so a check that reads the store must
   * not let a later frame be stored first.
   */
  #admit(
    quota: QuotaGate,
    devices: string[],
    payload: Uint8Array,
    senderUser: string,
  ): Promise<string[]> {
    const previous = this.#admitting;
    // The figures are read now, alongside those of the checks before it
    // (QuotaGate.prepare); only the decision waits for the earlier checks.
    const figures = quota.prepare(devices, senderUser);
    figures.catch(() => {}); // awaited below, maybe after `previous`
    const check = (async () => {
      await previous?.catch(() => {}); // its failure went to its own caller
      await figures;
      return await quota.overBound(devices, payload.length, senderUser);
    })();
    this.#admitting = check;
    check.finally(() => {
      if (this.#admitting === check) this.#admitting = null;
    }).catch(() => {}); // the caller awaits the failure; this chain only clears the slot
    return check;
  }

  /**
   * Puts a frame a device never acknowledged back into its queue (connection
   * lost or cut off). Its sender was acknowledged already, so no quota
   * applies. Live-only types (typing, media…) are dropped.
   */
  async requeue(deviceId: string, frame: Frame): Promise<void> {
    if (isQueuedFrameType(frame.type)) await this.#store([deviceId], encodeFrame(frame), "");
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
    // In the open write batch, behind the copies kept earlier: the queue's
    // order is the order of calls. Resolves once written and its holders told.
    try {
      await this.#writes.insert(envelopes);
    } catch (error) {
      throw new RouteError(
        "unavailable",
        `could not store the frame for offline members: ${errorText(error)}`,
      );
    }
    await this.#notifying;
  }

  /**
   * After each write: counts, then tells the holders of the enqueued rows
   * (another instance gets the rows themselves) and of kept copies whose
   * device could not take them, or whose connection is gone (they are now
   * ordinary queued frames) — one notice round per write.
   */
  #written(batch: WrittenBatch): void {
    this.stats.enqueued += batch.enqueued.length;
    this.stats.kept += batch.kept.length;
    for (const row of batch.enqueued) {
      this.#quota?.counted([row.deviceId], row.payload.length, row.senderUser ?? "");
    }
    const devices = batch.enqueued.map((row) => row.deviceId);
    for (const c of batch.kept) {
      const holder = this.#o.registry.get(c.envelope.deviceId);
      if (holder === undefined || holder.connectionId !== c.connectionId) {
        devices.push(c.envelope.deviceId);
      }
    }
    if (devices.length === 0) return;
    const rows = batch.enqueued;
    const previous = this.#notifying;
    // Never rejects (notify does not throw; the guard keeps it so).
    this.#notifying = previous.then(() => this.notify(devices, rows)).catch(() => {});
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

  /**
   * Keeps a durable copy of `payload` (an encoded frame) for `deviceId`, to
   * which it is being delivered live on connection `connectionId` (null: the
   * device could not take it now). Returns the copy's envelope id. The copy
   * is held for the durable-copy window and written (with the queue's next
   * write) only if the device has not acknowledged it by then;
   * {@link written} says when it is one or the other. If the device does not
   * acknowledge it on that connection, it is delivered from the queue later
   * like any queued frame. No quota applies and the copy counts for no
   * sender: a connection takes at most its outbound bound live (then it is
   * closed as a slow consumer, and further frames meet the quota).
   */
  keep(deviceId: string, payload: Uint8Array, connectionId: string | null): string {
    // Cheaper than newId (a hash per frame): unique per process, and the
    // random prefix keeps processes apart.
    const envelopeId = this.#keptIdPrefix + (++this.#keptIds).toString(36);
    this.#window.keep({ envelopeId, deviceId, payload, keptAt: this.#now(), connectionId });
    return envelopeId;
  }

  /** The device could not take the kept copy `envelopeId` live: it is told once the copy is written. */
  undelivered(envelopeId: string): void {
    if (this.#window.undelivered(envelopeId)) return;
    const copy = this.#writes.unwritten(envelopeId);
    if (copy) copy.connectionId = null;
  }

  /**
   * Resolves once every copy {@link keep} was given since the previous call
   * is acknowledged by its device or written (each earlier call answers for
   * its own); rejects with {@link RouteError} `unavailable` when a write
   * failed. Null when nothing is waiting (a turn without queued-type frames).
   */
  written(): Durability | null {
    return this.#window.durable();
  }

  /**
   * Writes at once the copies among `envelopeIds` still held in the window:
   * their connection is closing, so their device will not acknowledge them
   * there. Synchronous, so the write is in line before any frame queued
   * for the device afterwards.
   */
  releaseKept(envelopeIds: Iterable<string>): void {
    this.#window.releaseNow(envelopeIds);
  }

  /** Puts `copies` (their window ended) into the next write; settles when it is written. */
  #writeKept(copies: PendingCopy[]): Promise<void> {
    const ttlMs = this.#o.ttlSeconds * 1000;
    for (const c of copies) {
      this.#writes.keep({
        envelope: {
          envelopeId: c.envelopeId,
          deviceId: c.deviceId,
          payload: c.payload,
          deliverAfter: new Date(c.keptAt),
          expiresAt: new Date(c.keptAt + ttlMs),
        },
        connectionId: c.connectionId,
      });
    }
    const written = this.#writes.written() ?? Promise.resolve();
    const checked = written.catch((error: unknown) => {
      throw new RouteError("unavailable", `could not store the frame durably: ${errorText(error)}`);
    });
    checked.catch(() => {}); // handled: awaiters still see the rejection
    return checked;
  }

  /**
   * Writes every copy held in the window and the pending batch now, and
   * resolves when every batch is written (shutdown).
   */
  flush(): Promise<void> {
    this.#window.releaseAll();
    return this.#writes.flush();
  }

  /**
   * Removes the rows `envelopeIds` of `deviceId`: the device acknowledged
   * them. They go with the next write (one transaction for every device);
   * a kept copy acknowledged inside its window, or before its write, is
   * never written at all. Rejects when that batch fails (the rows stay: the
   * device gets them again after a reconnect — at least once).
   */
  settle(deviceId: string, envelopeIds: string[]): Promise<void> {
    let removal: Promise<void> | null = null;
    for (const envelopeId of envelopeIds) {
      if (this.#window.acknowledge(envelopeId) || this.#writes.forget(envelopeId)) continue;
      removal = this.#writes.remove(deviceId, envelopeId);
    }
    return removal ?? Promise.resolve();
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
   * local peer directly, another instance through the bus, `written` (rows
   * just written, in order) riding along (see offline_notices.ts: one
   * presence look-up for all, one bus message per holding instance). Never
   * throws: a lost notice only delays delivery until the next look
   * (reconnect, the periodic look while the bus is down).
   */
  notify(devices: string[], written?: readonly OfflineEnvelope[]): Promise<void> {
    return notifyHolders(this.#o, devices, written);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
