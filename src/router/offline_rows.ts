/**
 * The offline queue's rows: the group-committed writes (offline_writes.ts)
 * of rows enqueued for devices and of kept copies whose window ended, and
 * after each write the notices to whoever holds the devices' connections
 * (offline_notices.ts) — one notice round per write, in write order. The
 * offline queue (offline_queue.ts) decides what to write; this is how.
 *
 * @module
 */
import type { OfflineEnvelope, Store } from "../storage/mod.ts";
import type { Bus } from "./bus.ts";
import { RouteError } from "./errors.ts";
import { copyBytes, type PendingCopy } from "./kept_copies.ts";
import { notifyHolders } from "./offline_notices.ts";
import type { QuotaGate } from "./offline_quota.ts";
import { OfflineWrites, type WrittenBatch } from "./offline_writes.ts";
import type { Presence } from "./presence.ts";
import type { PeerRegistry } from "./registry.ts";
import { REMOTE_CONNECTION_PREFIX } from "./remote_copies.ts";

/** What {@link OfflineRows} needs (the offline queue's options). */
export interface OfflineRowsOptions {
  store: Pick<Store, "writeOfflineBatch">;
  registry: PeerRegistry;
  presence: Presence;
  bus: Bus;
  instanceId: string;
  ttlSeconds: number;
  newId: (context: string) => string;
  now: () => number;
  /** Counts what was written into the remembered usage figures. */
  quota: QuotaGate | null;
}

/** The counters {@link OfflineRows} keeps (the offline queue's). */
export interface OfflineRowsStats {
  enqueued: number;
  kept: number;
  keepFailures: number;
}

/** The queue's writes and the notices after them; see the module doc. */
export class OfflineRows {
  /** Every write of the queue: enqueued rows, kept copies and removals, group-committed. */
  readonly writes: OfflineWrites;
  readonly #o: OfflineRowsOptions;
  readonly #stats: OfflineRowsStats;
  /** The notices of the latest write (sent one write after another, so in row order). */
  #notifying: Promise<void> = Promise.resolve();

  constructor(options: OfflineRowsOptions, stats: OfflineRowsStats) {
    this.#o = options;
    this.#stats = stats;
    this.writes = new OfflineWrites(
      options.store,
      (batch) => this.#written(batch),
      (keptCopies) => {
        if (keptCopies > 0) stats.keepFailures++;
      },
    );
  }

  /**
   * Stores `payload` (an encoded frame) as a row for each of `devices`, in
   * the open write batch behind everything given before; resolves once
   * written and the rows' holders told. Throws {@link RouteError}
   * `unavailable` when the write fails.
   */
  async store(devices: string[], payload: Uint8Array, senderUser: string): Promise<void> {
    if (devices.length === 0) return;
    const now = this.#o.now();
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
      await this.writes.insert(envelopes);
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
    this.#stats.enqueued += batch.enqueued.length;
    this.#stats.kept += batch.kept.length;
    for (const row of batch.enqueued) {
      this.#o.quota?.counted([row.deviceId], row.payload.length, row.senderUser ?? "");
    }
    const devices = batch.enqueued.map((row) => row.deviceId);
    for (const c of batch.kept) {
      // Carried to another instance: its device holds it there, or that
      // instance released it (connectionId null, below) or stores it.
      if (c.connectionId?.startsWith(REMOTE_CONNECTION_PREFIX)) continue;
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

  /** Puts `copies` (their window ended) into the next write; settles when it is written. */
  writeKept(copies: PendingCopy[]): Promise<void> {
    const ttlMs = this.#o.ttlSeconds * 1000;
    for (const c of copies) {
      this.writes.keep({
        envelope: {
          envelopeId: c.envelopeId,
          deviceId: c.deviceId,
          payload: copyBytes(c.payload),
          deliverAfter: new Date(c.keptAt),
          expiresAt: new Date(c.keptAt + ttlMs),
        },
        connectionId: c.connectionId,
      });
    }
    const written = this.writes.written() ?? Promise.resolve();
    const checked = written.catch((error: unknown) => {
      throw new RouteError("unavailable", `could not store the frame durably: ${errorText(error)}`);
    });
    checked.catch(() => {}); // handled: awaiters still see the rejection
    return checked;
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
