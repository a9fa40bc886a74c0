/**
 * One timer for many deadlines (the sessions' time-triggered rekeys, the
 * connections' handshake deadlines): deadlines are rounded up to a coarse slot
 * (`granularityMs`), each slot is a Set of the items due then, and a
 * single timer is armed for the earliest slot. A per-session `setTimeout`
 * was a Node-style `Timeout` object plus its closure, ~0.3–0.4 KiB held for
 * the life of every idle session; an entry here is one Set slot (~30 B).
 *
 * An item fires at or after its deadline, at most one granularity late
 * (plus the event loop's own lateness), never early. The server creates
 * one per {@link SessionRuntime}; nothing of it is global.
 *
 * @module
 */

/** What the schedule calls when an item comes due (a method: no closure per item). */
export interface DueItem {
  /** The item's deadline passed; it is no longer scheduled. Must not throw. */
  due(): void;
}

/** The slot an item was added to (an integer ≥ 0); pass it back to {@link CoarseSchedule.remove}. */
export type SlotKey = number;

/** A coarse timer wheel: one timer for every scheduled item. */
export class CoarseSchedule {
  readonly #granularityMs: number;
  readonly #now: () => number;
  readonly #keepAlive: boolean;
  /** Slot number (deadline / granularity, rounded up) → items due in it. */
  #slots = new Map<number, Set<DueItem>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Slot the timer is armed for (Infinity when none). */
  #armedFor = Infinity;
  /** The slot's items being called now (removing one of them skips its call). */
  #firing: Set<DueItem> | null = null;

  /**
   * @param granularityMs slot width: the most an item fires late (> 0).
   * @param now the clock in milliseconds (tests substitute one).
   * @param keepAlive whether pending items keep the process alive (the timer
   *   is unref'd otherwise); with it, the timer is dropped once no item is left.
   */
  constructor(
    granularityMs = 1000,
    now: () => number = performance.now.bind(performance),
    keepAlive = false,
  ) {
    if (!(granularityMs > 0)) throw new RangeError("granularityMs must be > 0");
    this.#granularityMs = granularityMs;
    this.#now = now;
    this.#keepAlive = keepAlive;
  }

  /** Items currently scheduled (for tests and diagnostics). */
  get size(): number {
    let n = 0;
    for (const items of this.#slots.values()) n += items.size;
    return n;
  }

  /** Schedules `item.due()` at least `delayMs` from now; returns its slot for {@link remove}. */
  add(item: DueItem, delayMs: number): SlotKey {
    const slot = Math.ceil((this.#now() + Math.max(0, delayMs)) / this.#granularityMs);
    let items = this.#slots.get(slot);
    if (items === undefined) {
      items = new Set();
      this.#slots.set(slot, items);
    }
    items.add(item);
    if (slot < this.#armedFor) this.#arm(slot);
    return slot;
  }

  /** Unschedules `item` from `slot` (no-op if it already fired or was removed). */
  remove(item: DueItem, slot: SlotKey): void {
    const items = this.#slots.get(slot);
    if (items === undefined) {
      this.#firing?.delete(item); // an earlier item's call ended this one
      return;
    }
    if (!items.delete(item)) return;
    if (items.size === 0) {
      this.#slots.delete(slot);
      // Otherwise the timer stays armed: an empty slot costs one wakeup at most. A timer that
      // keeps the process alive goes with the last item (as a cleared per-item timer did).
      if (this.#keepAlive && this.#slots.size === 0) this.#disarm();
    }
  }

  /** Drops every item and the timer (the server is stopping). */
  stop(): void {
    this.#disarm();
    this.#slots = new Map();
    this.#firing?.clear();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #arm(slot: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = slot;
    const delay = Math.max(0, slot * this.#granularityMs - this.#now());
    this.#timer = setTimeout(this.#fire, delay);
    // Like the per-session timers it replaces: pending rekeys keep no process alive.
    if (!this.#keepAlive) Deno.unrefTimer(this.#timer);
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    // A slot is due once its end has passed (items are rounded up, so never early).
    const current = Math.floor(this.#now() / this.#granularityMs);
    const dueSlots: number[] = [];
    let next = Infinity;
    for (const slot of this.#slots.keys()) {
      if (slot <= current) dueSlots.push(slot);
      else if (slot < next) next = slot;
    }
    const due: Set<DueItem>[] = [];
    for (const slot of dueSlots) {
      due.push(this.#slots.get(slot)!);
      this.#slots.delete(slot);
    }
    // Armed before calling out: an item may schedule itself again.
    if (next !== Infinity) this.#arm(next);
    try {
      for (const items of due) {
        this.#firing = items;
        for (const item of items) {
          items.delete(item);
          item.due();
        }
      }
    } finally {
      this.#firing = null;
    }
  };
}
