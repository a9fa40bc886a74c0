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
 * acknowledged frame survives a crash of the server (PROTOCOL.md §4). A
 * frame for a device connected to another instance is held the same way and
 * carried to that instance on the bus (remote_copies.ts) when the window
 * applies to it (`crossInstanceWindow`).
 *
 * This file decides what happens to each copy; offline_placement.ts places
 * frames for devices not reached live (rows, or copies carried to other
 * instances), offline_admission.ts orders the decisions that read something
 * (quota figures, presence), and offline_rows.ts writes rows and tells their
 * devices' holders.
 *
 * (Older code called it "inbox" or "relay"; the storage table keeps
 * its name `relay_queue`, the metrics their upstream `commucat_relay_*` names.)
 *
 * @module
 */
import { encodeFrame, type Frame, isQueuedFrameType } from "../proto/mod.ts";
import type { OfflineEnvelope, Store, StoredEnvelope } from "../storage/mod.ts";
import type { Bus, KeptCopyRef } from "./bus.ts";
import {
  type Durability,
  type EnvelopeRef,
  KeptCopies,
  type KeptCopiesLimits,
  type KeptCopiesStats,
  KeptCopy,
  type LazyEncodedFrame,
  SYSTEM_CLOCK,
  type WindowClock,
} from "./kept_copies.ts";
import type { Presence } from "./presence.ts";
import { OfflineAdmission } from "./offline_admission.ts";
import { type OfflineQueueQuota, QuotaGate } from "./offline_quota.ts";
import type { PeerRegistry } from "./registry.ts";
import { OfflineRows } from "./offline_rows.ts";
import { KeptIds } from "./kept_ids.ts";
import { RemoteCopies } from "./remote_copies.ts";
import { OfflinePlacement } from "./offline_placement.ts";

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
  /**
   * Hold the copies of frames for devices connected to other instances in
   * the window too, carried on the bus without a row (remote_copies.ts;
   * several instances). False: such frames are written first.
   */
  crossInstanceWindow?: boolean;
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
  /** Every write of the queue and the notices after each. */
  readonly #rows: OfflineRows;
  /** Quota and presence decisions of enqueues, in call order. */
  readonly #admission: OfflineAdmission;
  /**
   * Copies held across instances: this instance's carried to others (when
   * the window applies to them), and others' carried here — which the bus
   * handler gives to {@link RemoteCopies.receive}.
   */
  readonly carried: RemoteCopies;
  readonly #carry: boolean;
  readonly #keptIds = new KeptIds();
  /** Where {@link enqueue} puts frames: rows, or copies carried to other instances. */
  readonly #placement: OfflinePlacement;

  constructor(options: OfflineQueueOptions) {
    this.#o = options;
    const clock = options.clock ?? SYSTEM_CLOCK;
    this.#now = options.now ?? clock.now;
    this.#quota = options.quota ? new QuotaGate(options.quota, options.store, this.#now) : null;
    this.carried = new RemoteCopies({
      presence: options.presence,
      bus: options.bus,
      instanceId: options.instanceId,
      now: this.#now,
      storeHere: (deviceId, payload) => this.#rows.store([deviceId], payload, ""),
    });
    this.#carry = (options.crossInstanceWindow ?? false) && (options.durableCopyDelayMs ?? 0) > 0;
    this.#admission = new OfflineAdmission(this.#quota, this.#carry ? this.carried : null);
    this.#window = new KeptCopies({
      delayMs: options.durableCopyDelayMs ?? 0,
      ...options.keptLimits,
      clock: options.now ? { ...clock, now: options.now } : clock,
      write: (copies) => this.#rows.writeKept(copies),
      keyOf: (id) => this.#keptIds.keyOf(id),
    });
    this.#rows = new OfflineRows({ ...options, now: this.#now, quota: this.#quota }, this.stats);
    this.#placement = new OfflinePlacement({
      admission: this.#admission,
      carry: this.#carry,
      carried: this.carried,
      window: this.#window,
      keptIds: this.#keptIds,
      rows: this.#rows,
      now: this.#now,
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
   * Throws `RouteError` (offline_placement.ts): `unavailable` when the store fails (nothing
   * stored; the sender must not be acknowledged); `queue_full` when the
   * sender is over its bound (nothing stored) or some recipients are over
   * theirs (stored for the others, not for those, which the error names).
   */
  enqueue(devices: string[], frame: Frame, senderUser = ""): Promise<void> {
    return this.#placement.enqueue(devices, frame, senderUser);
  }

  /**
   * Puts a frame a device never acknowledged back into its queue (connection
   * lost or cut off). Its sender was acknowledged already, so no quota
   * applies. Live-only types (typing, media…) are dropped.
   */
  async requeue(deviceId: string, frame: Frame): Promise<void> {
    if (isQueuedFrameType(frame.type)) await this.#rows.store([deviceId], encodeFrame(frame), "");
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
   * Keeps a durable copy of `payload` (an encoded frame; with `at` ≥ 0 the
   * arena chunk holding its `length` bytes from `at`, see `encodeForCopies`)
   * for `deviceId`, to
   * which it is being delivered live on connection `connectionId` (null: the
   * device could not take it now). Returns the copy's counter, which names
   * it while it waits for the device's Ack (no id string per delivery;
   * {@link envelopeIdOf} makes the id). The copy
   * is held for the durable-copy window and written (with the queue's next
   * write) only if the device has not acknowledged it by then;
   * {@link written} says when it is one or the other. If the device does not
   * acknowledge it on that connection, it is delivered from the queue later
   * like any queued frame. No quota applies and the copy counts for no
   * sender: a connection takes at most its outbound bound live (then it is
   * closed as a slow consumer, and further frames meet the quota).
   */
  keep(
    deviceId: string,
    payload: Uint8Array | LazyEncodedFrame,
    connectionId: string | null,
    at = -1,
    length = payload.length,
  ): number {
    // Cheaper than newId (a hash per frame): unique per process, and the
    // random prefix keeps processes apart.
    const counter = this.#keptIds.nextCounter();
    const copy = new KeptCopy(
      counter,
      this.#keptIds,
      deviceId,
      payload,
      this.#now(),
      connectionId,
      at,
      length,
    );
    this.#window.keep(copy);
    return counter;
  }

  /** The envelope id of a copy named by its counter ({@link keep}), or the id itself. */
  envelopeIdOf(ref: EnvelopeRef): string {
    return typeof ref === "string" ? ref : this.#keptIds.idOf(ref);
  }

  /**
   * The device could not take the kept copy `envelopeId` live: it is told
   * once the copy is written. False when it is written or being written.
   */
  undelivered(envelopeId: EnvelopeRef): boolean {
    if (this.#window.undelivered(envelopeId)) return true;
    const copy = this.#rows.writes.unwritten(this.envelopeIdOf(envelopeId));
    if (copy) copy.connectionId = null;
    return copy !== undefined;
  }

  /**
   * Resolves once every copy {@link keep} was given since the previous call
   * is acknowledged by its device or written (each earlier call answers for
   * its own); rejects with `RouteError` `unavailable` when a write
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
  releaseKept(envelopeIds: Iterable<EnvelopeRef>): void {
    const ids = [...envelopeIds];
    this.#window.releaseNow(ids);
    // Copies carried here from other instances are named by their id.
    this.carried.released(ids.filter((id): id is string => typeof id === "string"));
  }

  /**
   * Writes every copy held in the window and the pending batch now, and
   * resolves when every batch is written (shutdown).
   */
  flush(): Promise<void> {
    this.#window.releaseAll();
    return this.#rows.writes.flush();
  }

  /**
   * Removes the rows `envelopeIds` of `deviceId`: the device acknowledged
   * them. They go with the next write (one transaction for every device);
   * a kept copy acknowledged inside its window, or before its write, is
   * never written at all. Rejects when that batch fails (the rows stay: the
   * device gets them again after a reconnect — at least once). Null when
   * there is nothing to wait for (every copy was dropped in its window, by
   * its origin or before its write): an Ack costs no promise then.
   */
  settle(deviceId: string, envelopeIds: readonly EnvelopeRef[]): Promise<void> | null {
    let removal: Promise<void> | null = null;
    // Indexed: an iterator per Ack otherwise.
    for (let i = 0; i < envelopeIds.length; i++) {
      const ref = envelopeIds[i];
      // A counter names a copy this instance kept: never one carried here.
      if (typeof ref === "string" && this.carried.acknowledged(ref)) continue; // its origin holds it
      removal = this.#settleOwn(deviceId, ref) ?? removal;
    }
    return removal;
  }

  /** A copy of this instance's (kept here or a row) is acknowledged; see {@link settle}. */
  #settleOwn(deviceId: string, ref: EnvelopeRef): Promise<void> | null {
    if (this.#window.acknowledge(ref)) return null;
    const envelopeId = this.envelopeIdOf(ref);
    if (this.#rows.writes.forget(envelopeId)) return null;
    return this.#rows.writes.remove(deviceId, envelopeId);
  }

  /**
   * The holders of copies carried from here answered: `acked` copies are
   * acknowledged (or stored there), so they are dropped (or their rows
   * removed, when their window ended first); `released` ones are written now
   * and their devices' holders told.
   */
  copiesSettled(acked: readonly KeptCopyRef[], released: readonly KeptCopyRef[]): void {
    for (const ref of acked) {
      // Copies this instance kept (its answers name no other instance's), so
      // not looked up among those carried here: no array or hash per answer.
      // A failed removal leaves the row: delivered again later (at least once).
      this.#settleOwn(ref.deviceId, ref.envelopeId)?.catch(() => {});
    }
    for (const { deviceId, envelopeId } of released) {
      this.carried.forgetHolder(deviceId);
      if (this.undelivered(envelopeId)) continue; // its holder is told after the write
      // Written (its window ended) or being written: told after that write.
      const writing = this.#rows.writes.written() ?? Promise.resolve();
      writing.catch(() => {}).then(() => this.notify([deviceId]));
    }
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
   * Tells whoever holds each device's connection to look at its queue (see
   * {@link OfflineRows.notify}). Never throws.
   */
  notify(devices: string[], written?: readonly OfflineEnvelope[]): Promise<void> {
    return this.#rows.notify(devices, written);
  }
}
