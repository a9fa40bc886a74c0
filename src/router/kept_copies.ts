/**
 * The durable-copy window (`router.durable_copy_delay_ms`, PROTOCOL.md §4
 * "Offline queue"): the copy of a frame delivered live is held in memory for
 * the window and written to the offline queue only if its device has not
 * acknowledged it by then. The sender's Ack waits until every copy of its
 * frame is acknowledged or written, so it still means "durable": a crash
 * inside the window loses no acknowledged frame (its sender was not acked
 * and sends it again).
 *
 * One timer for all copies: copies are held in the order they were kept, so
 * the ones whose window ended are at the front; a sweep writes them together
 * and re-arms for the next one, at most once per {@link sweepTick}.
 *
 * @module
 */

import { HeldCopies } from "./held_copies.ts";
import { type CopyGroup, copySettled, Durability, groupFailed, newGroup } from "./durability.ts";
import { KeptCopy, type PendingCopy } from "./kept_copy.ts";

export { Durability, type DurabilityListener } from "./durability.ts";
export {
  copyBytes,
  type EncodedPlace,
  encodeForCopies,
  type EnvelopeNames,
  type EnvelopeRef,
  KeptCopy,
  LazyEncodedFrame,
  type PendingCopy,
} from "./kept_copy.ts";
import type { EnvelopeRef } from "./kept_copy.ts";

/** Time and one timer: the real ones, or a fake in tests. */
export interface WindowClock {
  now(): number;
  /** Calls `callback` once after `ms`; returns a handle for {@link clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The wall clock and the runtime's timers. */
export const SYSTEM_CLOCK: WindowClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Bounds of the copies held in the window; over one, the oldest copies are written at once. */
export interface KeptCopiesLimits {
  /** Copies held at once (default 65 536). */
  maxCopies?: number;
  /** Payload bytes held at once, a frame counted once per copy (default 64 MiB). */
  maxBytes?: number;
}

/** Dependencies of {@link KeptCopies}. */
export interface KeptCopiesOptions extends KeptCopiesLimits {
  /** The window, ms; 0 = every copy is written with the batch of this turn. */
  delayMs: number;
  /** Writes copies durably (the offline queue's batch); rejects when the write failed. */
  write(copies: PendingCopy[]): Promise<void>;
  clock?: WindowClock;
  /**
   * The held-copies Map key of an envelope id (the same for the same id, and
   * different for different ids; a counter for an id whose counter a
   * {@link KeptCopy} holds instead): absent, the id itself. See
   * `KeptIds.keyOf`.
   */
  keyOf?(envelopeId: string): EnvelopeRef;
}

/** Counters for metrics. */
export interface KeptCopiesStats {
  /** Copies acknowledged by their device inside the window: never written. */
  acknowledgedInWindow: number;
  /** Copies whose window ended (or that were released early) and went to the write. */
  released: number;
}

type Held = KeptCopy;

const DEFAULT_MAX_COPIES = 65_536;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * How often the sweep runs at most: a tenth of the window (at least 1 ms), so
 * a copy is written at most that late and a window's worth of copies that
 * nobody acknowledges costs about ten batch writes, not one per millisecond.
 */
export function sweepTick(delayMs: number): number {
  return Math.max(1, Math.ceil(delayMs / 10));
}

/** The copies of live deliveries held for the window; see the module doc. */
export class KeptCopies {
  readonly stats: KeptCopiesStats = { acknowledgedInWindow: 0, released: 0 };
  readonly #delayMs: number;
  readonly #tick: number;
  readonly #maxCopies: number;
  readonly #maxBytes: number;
  readonly #write: (copies: PendingCopy[]) => Promise<void>;
  readonly #clock: WindowClock;
  /** In the order kept, so in the order their windows end; keyed by {@link #keyOf}. */
  #held = new HeldCopies<Held>();
  readonly #keyOf: (envelopeId: string) => EnvelopeRef;
  #heldBytes = 0;
  /**
   * The copies kept since the last {@link durable} call: none (both null),
   * one (`#single`: the copy is its own group, no group object), or more
   * (`#group`).
   */
  #single: KeptCopy | null = null;
  #group: CopyGroup | null = null;
  #timer: unknown;
  /** When the last sweep ran (the next one waits at least {@link sweepTick} after it). */
  #lastSweep = -Infinity;

  constructor(options: KeptCopiesOptions) {
    if (!(options.delayMs >= 0)) throw new RangeError("the durable-copy window must be ≥ 0 ms");
    this.#delayMs = options.delayMs;
    this.#tick = sweepTick(options.delayMs);
    this.#maxCopies = options.maxCopies ?? DEFAULT_MAX_COPIES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#write = options.write;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#keyOf = options.keyOf ?? ((id) => id);
  }

  /** The clock's time now (ms): when a copy kept now is kept. */
  now(): number {
    return this.#clock.now();
  }

  /** Copies held in the window now. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Holds `copy` for the window (written at once when the window is 0; at a
   * bound, the oldest held copies are written at once to make room). It
   * belongs to the group the next {@link durable} call answers for.
   */
  keep(copy: PendingCopy): void {
    const held = copy instanceof KeptCopy ? copy : new KeptCopy(
      copy.envelopeId,
      null,
      copy.deviceId,
      copy.payload,
      copy.keptAt,
      copy.connectionId,
    );
    this.#join(held);
    if (this.#delayMs === 0 || held.connectionId === null) {
      this.#release([held]);
      return;
    }
    const bytes = held.length;
    if (this.#held.size >= this.#maxCopies || this.#heldBytes + bytes > this.#maxBytes) {
      // Over a bound: the oldest copies go first, so rows are written in the
      // order their frames were delivered (a reconnecting device is given
      // them again in that order).
      const out: Held[] = [];
      while (this.#held.size >= this.#maxCopies || this.#heldBytes + bytes > this.#maxBytes) {
        const old = this.#held.shift();
        if (old === undefined) break;
        this.#heldBytes -= old.length;
        out.push(old);
      }
      if (bytes > this.#maxBytes) out.push(held);
      if (out.length > 0) this.#release(out);
      if (bytes > this.#maxBytes) return;
    }
    this.#held.push(this.#key(held.ref), held);
    this.#heldBytes += bytes;
    this.#arm();
  }

  /** Puts `held` into the group the next {@link durable} call answers for. */
  #join(held: KeptCopy): void {
    if (this.#single === null && this.#group === null) {
      // Alone so far: its own group (the 1:1 case: no group object).
      held.group = held;
      held.remaining = 1;
      this.#single = held;
      return;
    }
    let group = this.#group;
    if (group === null) {
      // A second copy: the first one's settlement moves into a group for both.
      const first = this.#single!;
      group = newGroup();
      group.remaining = first.remaining;
      if (first.failed) {
        group.failed = true;
        group.error = first.error;
      }
      first.group = group;
      first.remaining = 0;
      this.#single = null;
      this.#group = group;
    }
    group.remaining++;
    held.group = group;
  }

  /**
   * Settles once every copy kept since the previous call is acknowledged by
   * its device or written; rejects with the write's error (the sender must
   * get an Error, not the Ack). Null when there is nothing to wait for.
   */
  durable(): Durability | null {
    const single = this.#single;
    if (single !== null) {
      this.#single = null;
      return single;
    }
    const group = this.#group;
    if (group === null) return null;
    this.#group = null;
    return new Durability(group);
  }

  /**
   * The device acknowledged the copy `envelopeId` (its id, or its counter:
   * {@link EnvelopeRef}; or it is otherwise settled): true when it was still
   * held, so no row exists or ever will.
   */
  acknowledge(envelopeId: EnvelopeRef): boolean {
    const held = this.#take(envelopeId);
    if (held === undefined) return false;
    this.stats.acknowledgedInWindow++;
    copySettled(held.group);
    return true;
  }

  /** The device could not take the copy `envelopeId` live: written at once (true when held). */
  undelivered(envelopeId: EnvelopeRef): boolean {
    const held = this.#take(envelopeId);
    if (held === undefined) return false;
    held.connectionId = null;
    this.#release([held]);
    return true;
  }

  /**
   * Writes at once the held copies among `envelopeIds` (their connection is
   * closing: its device will not acknowledge them). Synchronous: the write
   * is in line before anything queued after this call.
   */
  releaseNow(envelopeIds: Iterable<EnvelopeRef>): void {
    if (this.#held.size === 0) return;
    const out: Held[] = [];
    for (const id of envelopeIds) {
      const held = this.#take(id);
      if (held !== undefined) out.push(held);
    }
    if (out.length > 0) this.#release(out);
  }

  /** Writes every held copy at once (shutdown, or before a frame only stored). */
  releaseAll(): void {
    if (this.#held.size === 0) return;
    const out = this.#held.takeAll();
    this.#heldBytes = 0;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#release(out);
  }

  /** The Map key of a copy's id or counter. */
  #key(ref: EnvelopeRef): EnvelopeRef {
    return typeof ref === "number" ? ref : this.#keyOf(ref);
  }

  #take(envelopeId: EnvelopeRef): Held | undefined {
    if (this.#held.size === 0) return undefined;
    const held = this.#held.take(this.#key(envelopeId));
    if (held === undefined) return undefined;
    this.#heldBytes -= held.length;
    return held;
  }

  /** Sends `out` to the write; each group settles (or fails) with it. */
  #release(out: Held[]): void {
    this.stats.released += out.length;
    const written = this.#write(out);
    written.then(
      () => {
        for (const h of out) copySettled(h.group);
      },
      (error: unknown) => {
        for (const h of out) groupFailed(h.group, error);
      },
    );
  }

  /** Makes sure the sweep runs when the oldest held copy's window ends. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const oldest = this.#held.oldest();
    if (oldest === undefined) return;
    const now = this.#clock.now();
    const due = Math.max(oldest.keptAt + this.#delayMs, this.#lastSweep + this.#tick);
    this.#timer = this.#clock.setTimeout(this.#sweep, Math.max(0, due - now));
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    this.#lastSweep = now;
    const out: Held[] = [];
    for (let held = this.#held.oldest(); held !== undefined; held = this.#held.oldest()) {
      if (held.keptAt + this.#delayMs > now) break;
      this.#held.shift();
      this.#heldBytes -= held.length;
      out.push(held);
    }
    if (out.length > 0) this.#release(out);
    this.#arm();
  };
}
