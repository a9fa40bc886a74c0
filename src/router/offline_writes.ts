/**
 * The offline queue's writes, group-committed: rows to insert (enqueued
 * frames and kept copies of live deliveries, in call order) and rows to
 * remove (acknowledged) gather in one open batch while the write before it
 * is out, and go in one store transaction (`writeOfflineBatch`) when it ends
 * (or after this event-loop turn when none is out). So a busy instance
 * writes once per store round trip whatever its mix of enqueues, copies and
 * acknowledgements, and a kept copy acknowledged while it waits is never
 * written at all.
 *
 * A batch is written whole or not at all: when it fails, every waiter of it
 * is rejected (senders are not acknowledged, removed rows stay and are
 * delivered again — at least once) and the next batch is tried as usual.
 *
 * @module
 */
import type { OfflineEnvelope, Store } from "../storage/mod.ts";

/** A kept copy in a batch. */
export interface KeptRow {
  envelope: OfflineEnvelope;
  /** The connection it was delivered to; null when the device could not take it. */
  connectionId: string | null;
}

/** What a written batch held (for the notices after it). */
export interface WrittenBatch {
  /** Enqueued rows, in call order. */
  enqueued: OfflineEnvelope[];
  /** Kept copies written (not acknowledged before the write). */
  kept: KeptRow[];
}

interface OpenBatch {
  /** Rows in call order; a kept copy acknowledged before the write becomes null. */
  rows: (OfflineEnvelope | null)[];
  /** Kept copies of this batch by envelope id, with their index in `rows`. */
  kept: Map<string, { index: number; row: KeptRow }>;
  enqueued: number;
  remove: { deviceId: string; envelopeId: string }[];
  done: Deferred;
}

/** Group-committed writes of the offline queue; see the module doc. */
export class OfflineWrites {
  readonly #store: Pick<Store, "writeOfflineBatch">;
  readonly #afterWrite: (batch: WrittenBatch) => void;
  readonly #onFailure: (keptCopies: number) => void;
  #open: OpenBatch | null = null;
  /** The write out now, null when none. */
  #writing: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `afterWrite` runs after each successful write, before its waiters
   * resume; `onFailure` after a failed one, with the number of kept copies
   * it held.
   */
  constructor(
    store: Pick<Store, "writeOfflineBatch">,
    afterWrite: (batch: WrittenBatch) => void,
    onFailure: (keptCopies: number) => void = () => {},
  ) {
    this.#store = store;
    this.#afterWrite = afterWrite;
    this.#onFailure = onFailure;
  }

  /** Inserts `rows` with the next batch; resolves when written, rejects with the store's error. */
  insert(rows: readonly OfflineEnvelope[]): Promise<void> {
    const batch = this.#batch();
    batch.rows.push(...rows);
    batch.enqueued += rows.length;
    return batch.done.promise;
  }

  /** Writes a kept copy with the next batch (unless {@link forget} drops it first). */
  keep(row: KeptRow): void {
    const batch = this.#batch();
    batch.kept.set(row.envelope.envelopeId, { index: batch.rows.length, row });
    batch.rows.push(row.envelope);
  }

  /** The kept copy `envelopeId` not written yet, or undefined. */
  unwritten(envelopeId: string): KeptRow | undefined {
    return this.#open?.kept.get(envelopeId)?.row;
  }

  /** Drops the kept copy `envelopeId` if it is not written yet; true when it was dropped. */
  forget(envelopeId: string): boolean {
    const batch = this.#open;
    const entry = batch?.kept.get(envelopeId);
    if (batch === null || batch === undefined || entry === undefined) return false;
    batch.kept.delete(envelopeId);
    batch.rows[entry.index] = null;
    return true;
  }

  /** Removes a written row with the next batch; resolves when that batch is written. */
  remove(deviceId: string, envelopeId: string): Promise<void> {
    const batch = this.#batch();
    batch.remove.push({ deviceId, envelopeId });
    return batch.done.promise;
  }

  /**
   * Settles once every kept copy given so far is written (null when none
   * waits and no write is out); rejects when its batch failed.
   */
  written(): Promise<void> | null {
    if (this.#open !== null && this.#open.kept.size > 0) return this.#open.done.promise;
    return this.#writing;
  }

  /** Writes the open batch now and resolves when every write ended (shutdown). */
  async flush(): Promise<void> {
    while (this.#open !== null || this.#writing !== null) {
      if (this.#writing === null) this.#start();
      await this.#writing?.catch(() => {}); // its failure went to its waiters
    }
  }

  /** The open batch, opened (and its write scheduled) when none is. */
  #batch(): OpenBatch {
    if (this.#open !== null) return this.#open;
    const batch: OpenBatch = {
      rows: [],
      kept: new Map(),
      enqueued: 0,
      remove: [],
      done: deferred(),
    };
    this.#open = batch;
    // With a write out, the batch starts when it ends; else after this turn.
    if (this.#writing === null) this.#timer ??= setTimeout(() => this.#start(), 0);
    return batch;
  }

  #start(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#open;
    if (batch === null || this.#writing !== null) return;
    this.#open = null;
    const rows = batch.rows.filter((r): r is OfflineEnvelope => r !== null);
    let write: Promise<void>;
    try {
      write = rows.length === 0 && batch.remove.length === 0
        ? Promise.resolve() // every copy was acknowledged before its write
        : this.#store.writeOfflineBatch(rows, batch.remove);
    } catch (error) {
      write = Promise.reject(error);
    }
    const settled = write.then(
      () => {
        const enqueued: OfflineEnvelope[] = [];
        const kept: KeptRow[] = [];
        const keptIds = new Set(batch.kept.keys());
        for (const row of rows) {
          if (keptIds.has(row.envelopeId)) kept.push(batch.kept.get(row.envelopeId)!.row);
          else enqueued.push(row);
        }
        try {
          this.#afterWrite({ enqueued, kept });
        } catch {
          // Notices only: a failed one delays delivery, the rows are written.
        }
        batch.done.resolve();
      },
      (error: unknown) => {
        this.#onFailure(batch.kept.size);
        batch.done.reject(error);
      },
    );
    this.#writing = batch.done.promise;
    settled.finally(() => {
      this.#writing = null;
      // The batch gathered while this one was out goes now.
      if (this.#open !== null) this.#start();
    });
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
