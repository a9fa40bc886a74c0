/**
 * What one device remembers of the payloads it handled, per channel: the digests of recent ones
 * (the server delivers at least once: a repeat is a `duplicate`) and the ones of an epoch it has
 * not reached yet, held until the commit that reaches it arrives.
 *
 * @module
 */
import { hex, sameBytes, sha256, utf8 } from "./bytes.ts";
import type { E2EStore } from "./store.ts";

/** Payloads of a later epoch held per channel until the commit that reaches it arrives. */
export const MAX_HELD = 256;
/** Recently seen payload hashes kept per channel (duplicate detection). */
const MAX_SEEN = 1024;

/** The SHA-256 digests of the last {@link MAX_SEEN} payloads per channel, kept as `seen/<ch>`. */
export class SeenPayloads {
  readonly #store: E2EStore;
  readonly #seen = new Map<number, string[]>();

  constructor(store: E2EStore) {
    this.#store = store;
  }

  /** Reads the digests kept in the store. */
  async load(): Promise<void> {
    for (const key of await this.#store.keys("seen/")) {
      const bytes = await this.#store.get(key);
      if (bytes) this.#seen.set(Number(key.slice(5)), JSON.parse(new TextDecoder().decode(bytes)));
    }
  }

  /** True when `payload` was remembered on `channel` (and not pushed out since). */
  async has(channel: number, payload: Uint8Array): Promise<boolean> {
    const digest = hex(await sha256(payload));
    return this.#seen.get(channel)?.includes(digest) ?? false;
  }

  /** Remembers `payload` on `channel`, dropping the oldest digest past {@link MAX_SEEN}. */
  async remember(channel: number, payload: Uint8Array): Promise<void> {
    const digest = hex(await sha256(payload));
    const seen = this.#seen.get(channel) ?? [];
    if (seen.includes(digest)) return;
    seen.push(digest);
    while (seen.length > MAX_SEEN) seen.shift();
    this.#seen.set(channel, seen);
    await this.#store.put(`seen/${channel}`, utf8(JSON.stringify(seen)));
  }
}

/** A payload waiting for its epoch. */
export interface Held {
  payload: Uint8Array;
  epoch: bigint;
}

/** Payloads of later epochs, per channel, at most {@link MAX_HELD} each (in memory only). */
export class HeldPayloads {
  readonly #held = new Map<number, Held[]>();

  /** Holds a copy of `payload` (of `epoch`) unless it is held already; drops the oldest past the bound. */
  hold(channel: number, payload: Uint8Array, epoch: bigint): void {
    const held = this.#held.get(channel) ?? [];
    if (held.some((h) => sameBytes(h.payload, payload))) return;
    held.push({ payload: payload.slice(), epoch });
    while (held.length > MAX_HELD) held.shift();
    this.#held.set(channel, held);
  }

  /** Takes out the payloads of `channel` that `epoch` has reached, in epoch order. */
  takeReady(channel: number, epoch: bigint): Held[] {
    const held = this.#held.get(channel);
    if (!held) return [];
    const ready = held.filter((h) => h.epoch <= epoch);
    if (ready.length === 0) return [];
    this.#held.set(channel, held.filter((h) => h.epoch > epoch));
    return ready.sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
  }

  /** Drops the payloads of `channel` older than `epoch` (a group joined at `epoch`). */
  dropBefore(channel: number, epoch: bigint): void {
    this.#held.set(channel, (this.#held.get(channel) ?? []).filter((h) => h.epoch >= epoch));
  }

  /** Drops everything held for `channel`. */
  forget(channel: number): void {
    this.#held.delete(channel);
  }
}
