/**
 * The copies the durable-copy window holds, in the order they were kept,
 * found by key: the counter of the copy's envelope id (`KeptIds`), or — for
 * an id in another form — the id itself.
 *
 * Why not a Map: a copy is added and removed once per delivered message, and
 * a Map under that churn rebuilds its hash table every few hundred
 * operations; the tables live past a scavenge (they hold the copies), so
 * they were copied and promoted, ~65 B per delivery. Here the copies sit in
 * an array in keep order with their keys beside them; counters only grow,
 * so a counter is found by binary search, and a taken copy leaves a hole
 * that the front skips. The arrays are compacted (one copy of the held
 * part) once the front passed half of them.
 *
 * @module
 */

/** Holes before the front that make a compaction worth it (and at least half the arrays). */
const COMPACT_AFTER = 1024;

/** Copies in keep order, found by their key. */
export class HeldCopies<T> {
  /** The copies from {@link #front} on, a taken one as undefined. */
  #items: (T | undefined)[] = [];
  /**
   * Per item: its counter, or (a copy keyed by a string) the last counter
   * before it, so the array stays sorted for the binary search.
   */
  #keys: number[] = [];
  /** Per item, only for a copy keyed by a string: the string (else undefined). */
  #names: (string | undefined)[] = [];
  #front = 0;
  #size = 0;
  #lastCounter = 0;
  /** Items keyed by a string still held (none: no linear search for a string key). */
  #named = 0;

  /** Copies held. */
  get size(): number {
    return this.#size;
  }

  /**
   * Holds `item` under `key`, after every copy held. A counter must be above
   * every counter added before (they are handed out in order): throws
   * RangeError otherwise.
   */
  push(key: number | string, item: T): void {
    if (typeof key === "number") {
      if (!(key > this.#lastCounter)) {
        throw new RangeError(`kept-copy counters must grow: ${key} after ${this.#lastCounter}`);
      }
      this.#lastCounter = key;
      this.#names.push(undefined);
    } else {
      this.#names.push(key);
      this.#named++;
    }
    this.#keys.push(this.#lastCounter);
    this.#items.push(item);
    this.#size++;
  }

  /** The oldest copy held, or undefined. */
  oldest(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#front];
  }

  /** Takes the oldest copy out; undefined when none is held. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    return this.#takeAt(this.#front);
  }

  /** Takes out the copy held under `key`; undefined when none is. */
  take(key: number | string): T | undefined {
    if (this.#size === 0) return undefined;
    const at = typeof key === "number" ? this.#findCounter(key) : this.#findName(key);
    return at < 0 ? undefined : this.#takeAt(at);
  }

  /** Takes every copy out, oldest first. */
  takeAll(): T[] {
    const out: T[] = [];
    for (let i = this.#front; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item !== undefined) out.push(item);
    }
    this.#items = [];
    this.#keys = [];
    this.#names = [];
    this.#front = 0;
    this.#size = 0;
    this.#named = 0;
    return out;
  }

  #findCounter(counter: number): number {
    const keys = this.#keys;
    let low = this.#front, high = keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (keys[mid] < counter) low = mid + 1;
      else high = mid;
    }
    // The counter's own item is the first with its key; string-keyed ones follow it.
    if (low < keys.length && keys[low] === counter && this.#names[low] === undefined) {
      return this.#items[low] === undefined ? -1 : low;
    }
    return -1;
  }

  #findName(name: string): number {
    if (this.#named === 0) return -1;
    for (let i = this.#front; i < this.#names.length; i++) {
      if (this.#names[i] === name && this.#items[i] !== undefined) return i;
    }
    return -1;
  }

  #takeAt(at: number): T {
    const item = this.#items[at]!;
    this.#items[at] = undefined;
    if (this.#names[at] !== undefined) this.#named--;
    this.#size--;
    const items = this.#items;
    while (this.#front < items.length && items[this.#front] === undefined) this.#front++;
    if (this.#front >= COMPACT_AFTER && this.#front * 2 >= items.length) {
      this.#items = items.slice(this.#front);
      this.#keys = this.#keys.slice(this.#front);
      this.#names = this.#names.slice(this.#front);
      this.#front = 0;
    }
    return item;
  }
}
