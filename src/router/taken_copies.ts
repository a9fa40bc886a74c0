/**
 * The holder's side of copies carried from other instances
 * (remote_copies.ts): which copies a device here took live and not yet
 * acknowledged, with their device and origin, found again by envelope id
 * when the device acknowledges one or its connection ends.
 *
 * Why not a Map by envelope id: a copy is added and removed once per
 * crossing delivery, and a Map under that churn rebuilds its hash table every
 * few hundred operations; the tables outlive a scavenge (they hold the
 * copies), so they were copied and promoted — with an object per copy for
 * its origin and device, ~180 of the ~215 bytes per crossing delivery that
 * outlived the young generation (bench/inprocess_cluster.ts
 * --promoted-profile). An origin names its copies `KeptIds`-style: its
 * random prefix and a counter in base 36, handed out in order and carried
 * in order on one Redis connection. So the copies are held per origin prefix
 * in a {@link HeldCopies} by counter (an array in arrival order, no hashing)
 * holding just the device id; an id in any other form is held by the id.
 *
 * @module
 */
import { HeldCopies } from "./held_copies.ts";

/** The copies taken from one origin (one `KeptIds` prefix: one origin process). */
interface Origin {
  /** The ids' common part, up to and including the last "-". */
  readonly prefix: string;
  /** The origin's instance id, told when a copy is acknowledged or released. */
  readonly instance: string;
  /** Device ids by counter (or by the whole id, for one in another form). */
  readonly copies: HeldCopies<string>;
  /** The highest counter held so far: counters must grow ({@link HeldCopies.push}). */
  last: number;
}

/** Origins (prefixes) kept once empty; more are dropped as they empty (restarted origins). */
const KEPT_ORIGINS = 8;

/** Largest counter read from an id (10 base-36 digits stay exact in a double). */
const MAX_COUNTER_DIGITS = 10;

/**
 * The counter after `cut` in `id` (base 36, lower case, no leading zero, as
 * `KeptIds.idOf` writes it), or -1 for anything else.
 */
function counterAfter(id: string, cut: number): number {
  const length = id.length - cut;
  if (length < 1 || length > MAX_COUNTER_DIGITS) return -1;
  let value = 0;
  for (let i = cut; i < id.length; i++) {
    const c = id.charCodeAt(i);
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x7a) digit = c - 0x57;
    else return -1;
    if (digit === 0 && i === cut) return -1; // a leading zero: two ids would share a counter
    value = value * 36 + digit;
  }
  return value;
}

/**
 * `text` as a string of its own: a slice of a received id is a view of the
 * whole decoded text block of its bus message, which it would keep alive,
 * and comparing against such a view cost ~1 µs per id (a flat string: a
 * fraction of that). A property key is always a flat, internalized string.
 */
function ownString(text: string): string {
  return Object.keys({ [text]: 0 })[0];
}

/** What a taken copy answers to its origin. */
export interface TakenCopy {
  origin: string;
  deviceId: string;
}

/** Carried copies delivered here and not yet acknowledged; see the module doc. */
export class TakenCopies {
  readonly #origins: Origin[] = [];
  #size = 0;
  /** Filled by {@link take} (one object, reused: read it before the next call). */
  readonly #found: TakenCopy = { origin: "", deviceId: "" };

  /** Copies held. */
  get size(): number {
    return this.#size;
  }

  /** Holds the copy `envelopeId` of `deviceId`, carried from `origin` and taken live. */
  add(origin: string, envelopeId: string, deviceId: string): void {
    let from = this.#originOf(envelopeId);
    if (from === null) {
      const cut = envelopeId.lastIndexOf("-") + 1;
      from = {
        prefix: ownString(envelopeId.slice(0, cut)),
        instance: origin,
        copies: new HeldCopies(),
        last: 0,
      };
      this.#origins.push(from);
    }
    const counter = from.instance === origin ? counterAfter(envelopeId, from.prefix.length) : -1;
    if (counter > from.last) {
      from.copies.push(counter, deviceId);
      from.last = counter;
    } else {
      // Another form, out of order, or the prefix of another instance: by the id.
      from.copies.push(envelopeId, deviceId);
    }
    this.#size++;
  }

  /**
   * Takes the copy `envelopeId` out: its origin and device (an object reused
   * by the next call), or null when it is not held here.
   */
  take(envelopeId: string): Readonly<TakenCopy> | null {
    if (this.#size === 0) return null;
    const from = this.#originOf(envelopeId);
    if (from === null) return null;
    const counter = counterAfter(envelopeId, from.prefix.length);
    let deviceId = counter > 0 ? from.copies.take(counter) : undefined;
    deviceId ??= from.copies.take(envelopeId);
    if (deviceId === undefined) return null;
    this.#size--;
    const found = this.#found;
    found.origin = from.instance;
    found.deviceId = deviceId;
    if (from.copies.size === 0 && this.#origins.length > KEPT_ORIGINS) {
      this.#origins.splice(this.#origins.indexOf(from), 1);
    }
    return found;
  }

  /**
   * The origin whose prefix `id` has, up to its last "-"; a scan: origins
   * are few. (No search for the last "-" first, and an equality, not
   * `startsWith`: on the ids, slices of a decoded block, those cost 4–5× as
   * much, ~0.5 µs each.)
   */
  #originOf(id: string): Origin | null {
    for (const from of this.#origins) {
      const cut = from.prefix.length;
      if (
        id.length >= cut && (cut === 0 || id.charCodeAt(cut - 1) === 0x2d) &&
        id.slice(0, cut) === from.prefix && id.indexOf("-", cut) < 0
      ) return from;
    }
    return null;
  }
}
