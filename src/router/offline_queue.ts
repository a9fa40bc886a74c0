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
 * then, in one batch per event-loop turn; the sender's Ack waits for the
 * acknowledgement or the write, so an acknowledged frame survives a crash of
 * the server (PROTOCOL.md §4).
 *
 * (Older code called it "inbox" or "relay"; the storage table keeps
 * its name `relay_queue`, the metrics their upstream `commucat_relay_*` names.)
 *
 * @module
 */
import { encodeBase64, encodeFrame, type Frame, isQueuedFrameType } from "../proto/mod.ts";
import type { OfflineEnvelope, Store, StoredEnvelope } from "../storage/mod.ts";
import { type Bus, type BusMessage, MAX_CARRIED_FRAME } from "./bus.ts";
import { RouteError } from "./errors.ts";
import {
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
  /** Kept copies whose window ended, by envelope id; written after this turn. */
  #unwritten = new Map<string, PendingCopy>();
  /** Acknowledged rows to remove, with the next batch. */
  #toRemove: { deviceId: string; envelopeId: string }[] = [];
  /** Settles when the next batch (what is in {@link #unwritten} and {@link #toRemove}) is written. */
  #nextBatch: Deferred | null = null;
  /** The latest batch write (batches are written one after another), null once settled. */
  #writing: Promise<void> | null = null;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The enqueue write not started yet (it waits for the write before it):
   * frames enqueued meanwhile join it, so a busy instance writes one INSERT
   * per store round trip instead of one per frame (cross-instance routing
   * stores every frame; one write at a time made the commit latency its bound).
   */
  #openEnqueue: { envelopes: OfflineEnvelope[]; write: Promise<void> } | null = null;
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
    // Behind the copies kept earlier (flushed now): the queue's order is the order of calls.
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flush();
    }
    await this.#enqueueWrite(envelopes);
    this.stats.enqueued += envelopes.length;
    this.#quota?.counted(devices, payload.length, senderUser);
    // A device that connected while we were writing may have drained its
    // queue already: tell it to look again (another instance gets the row itself).
    await this.notify(devices, envelopes);
  }

  /**
   * Writes `envelopes` after every write started before (the store takes
   * writes in call order): with the open enqueue batch when it is still the
   * last write in line, else as a new one. A batch is one INSERT, so its
   * frames are stored together or (rejecting every caller with
   * {@link RouteError} `unavailable`) not at all.
   */
  #enqueueWrite(envelopes: OfflineEnvelope[]): Promise<void> {
    const open = this.#openEnqueue;
    if (open !== null && this.#writing === open.write) {
      open.envelopes.push(...envelopes);
      return open.write;
    }
    const previous = this.#writing;
    const batch = { envelopes: [...envelopes], write: Promise.resolve() };
    const write = (async () => {
      await previous?.catch(() => {}); // its failure was reported to its waiters
      if (this.#openEnqueue === batch) this.#openEnqueue = null; // closed: written now
      try {
        await this.#o.store.enqueueOffline(batch.envelopes);
      } catch (error) {
        throw new RouteError(
          "unavailable",
          `could not store the frame for offline members: ${errorText(error)}`,
        );
      }
    })();
    write.catch(() => {}); // the callers see the failure; later writes must not
    batch.write = write;
    this.#openEnqueue = batch;
    this.#writing = write;
    write.finally(() => {
      if (this.#writing === write) this.#writing = null;
    }).catch(() => {}); // the failure is awaited by the callers; this chain only clears the slot
    return write;
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
   * is held for the durable-copy window and written (with the other copies
   * of that turn) only if the device has not acknowledged it by then;
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
    const copy = this.#unwritten.get(envelopeId);
    if (copy) copy.connectionId = null;
  }

  /**
   * Resolves once every copy {@link keep} was given since the previous call
   * is acknowledged by its device or written (each earlier call answers for
   * its own); rejects with {@link RouteError} `unavailable` when a write
   * failed. Null when nothing is waiting (a turn without queued-type frames).
   */
  written(): Promise<void> | null {
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

  /** Puts `copies` into the batch of this turn; settles when it is written. */
  #writeKept(copies: PendingCopy[]): Promise<void> {
    for (const copy of copies) this.#unwritten.set(copy.envelopeId, copy);
    this.#scheduleFlush();
    return (this.#nextBatch ??= deferred()).promise;
  }

  /**
   * Writes every copy held in the window and the pending batch now, and
   * resolves when every batch is written (shutdown).
   */
  async flush(): Promise<void> {
    this.#window.releaseAll();
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flush();
    }
    // Each failure was reported to its waiters: here only completion matters.
    while (this.#writing !== null) await this.#writing.catch(() => {});
  }

  #scheduleFlush(): void {
    this.#flushTimer ??= setTimeout(() => this.#flush(), 0);
  }

  /** Writes the batch of this turn: the kept copies and the removals, in one transaction. */
  #flush(): void {
    this.#flushTimer = undefined;
    const batch = [...this.#unwritten.values()];
    this.#unwritten = new Map();
    const remove = this.#toRemove;
    this.#toRemove = [];
    const done = this.#nextBatch;
    this.#nextBatch = null;
    const previous = this.#writing;
    const write = (async () => {
      // One write at a time, in order: a later batch (or enqueue) never lands
      // before an earlier one, and a removal never before the write of its row.
      if (previous) await previous.catch(() => {}); // its failure was reported to its waiters
      // Empty when every copy was acknowledged before it was written.
      if (batch.length === 0 && remove.length === 0) return;
      const ttlMs = this.#o.ttlSeconds * 1000;
      const envelopes: OfflineEnvelope[] = batch.map((c) => ({
        envelopeId: c.envelopeId,
        deviceId: c.deviceId,
        payload: c.payload,
        deliverAfter: new Date(c.keptAt),
        expiresAt: new Date(c.keptAt + ttlMs),
      }));
      try {
        await this.#o.store.writeOfflineBatch(envelopes, remove);
      } catch (error) {
        this.stats.keepFailures++;
        throw new RouteError(
          "unavailable",
          `could not store the frame durably: ${errorText(error)}`,
        );
      }
      this.stats.kept += batch.length;
    })();
    // Marked handled here: a failed batch nobody awaits must not be an unhandled rejection.
    write.catch(() => {});
    this.#writing = write;
    write.then(
      () => {
        done?.resolve();
        // A copy its device could not take, or whose connection is gone, is
        // now an ordinary queued frame: tell the device's current holder.
        const stray = new Set<string>();
        for (const c of batch) {
          const holder = this.#o.registry.get(c.deviceId);
          if (holder === undefined || holder.connectionId !== c.connectionId) {
            stray.add(c.deviceId);
          }
        }
        if (stray.size > 0) void this.notify([...stray]);
      },
      (error: unknown) => done?.reject(error),
    ).finally(() => {
      if (this.#writing === write) this.#writing = null;
    });
  }

  /**
   * Removes the rows `envelopeIds` of `deviceId`: the device acknowledged
   * them. They go with the next batch (one transaction per turn for every
   * device); a kept copy acknowledged inside its window, or before its batch
   * was written, is never written at all. Rejects when that batch fails (the
   * rows stay: the device gets them again after a reconnect — at least once).
   */
  settle(deviceId: string, envelopeIds: string[]): Promise<void> {
    let queued = false;
    for (const envelopeId of envelopeIds) {
      if (this.#window.acknowledge(envelopeId) || this.#unwritten.delete(envelopeId)) continue;
      this.#toRemove.push({ deviceId, envelopeId });
      queued = true;
    }
    if (!queued) return Promise.resolve();
    this.#scheduleFlush();
    return (this.#nextBatch ??= deferred()).promise;
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
  async notify(devices: string[], written?: readonly OfflineEnvelope[]): Promise<void> {
    const remote: Promise<void>[] = [];
    for (let i = 0; i < devices.length; i++) {
      const deviceId = devices[i];
      const local = this.#o.registry.get(deviceId);
      if (local) local.checkOfflineQueue();
      else remote.push(this.#notifyHolder(deviceId, written?.[i]));
    }
    // One presence look-up per recipient, all at once (a group fan-out must
    // not pay them one after another).
    if (remote.length > 0) await Promise.all(remote);
  }

  async #notifyHolder(deviceId: string, row?: OfflineEnvelope): Promise<void> {
    // Presence or bus down: the notice is lost, the frame is not (see notify).
    const entry = await this.#o.presence.get(deviceId).catch(() => null);
    if (entry && entry.instance !== this.#o.instanceId) {
      // The row rides along (small frames): the holder delivers it without reading it back.
      const message: BusMessage = row && row.deviceId === deviceId &&
          row.payload.length <= MAX_CARRIED_FRAME
        ? {
          kind: "offline-queue",
          deviceId,
          envelopeId: row.envelopeId,
          frame: encodeBase64(row.payload),
        }
        : { kind: "offline-queue", deviceId };
      await this.#o.bus.send(entry.instance, message).catch(() => {
        // Same: the receiver looks again on its own when its bus recovers.
      });
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/** A promise with its settle functions; marked handled (its awaiters see the rejection). */
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // handled: awaiters still see the rejection
  return { promise, resolve, reject };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
