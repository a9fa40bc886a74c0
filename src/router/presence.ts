/**
 * Presence: which devices are online, with a state and a TTL. The seam lets
 * Redis replace the in-memory default when several instances share traffic.
 *
 * @module
 */

/** One device's presence. */
export interface PresenceEntry {
  deviceId: string;
  state: string;
  /** Instance holding the device's connection. */
  instance: string;
  expiresAt: Date;
}

/** Presence store. */
export interface Presence {
  /** Marks a device with `state` until `ttlSeconds` from now. */
  set(deviceId: string, state: string, instance: string, ttlSeconds: number): Promise<void>;
  /** Removes a device's presence (it went offline) if `instance` still holds it. */
  clear(deviceId: string, instance: string): Promise<void>;
  /** Current presence, or null when offline or expired. */
  get(deviceId: string): Promise<PresenceEntry | null>;
  /** {@link get} of each of `deviceIds` (in their order), in one look-up. */
  getMany(deviceIds: readonly string[]): Promise<(PresenceEntry | null)[]>;
  /** Backend health for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A stored entry: the expiry as a number, its `Date` made only when read
 * (nothing on the routing path reads it) — a `Date` per online device was
 * held for as long as it stayed connected.
 */
class StoredPresence implements PresenceEntry {
  readonly deviceId: string;
  readonly state: string;
  readonly instance: string;
  readonly expiresAtMs: number;

  constructor(deviceId: string, state: string, instance: string, expiresAtMs: number) {
    this.deviceId = deviceId;
    this.state = state;
    this.instance = instance;
    this.expiresAtMs = expiresAtMs;
  }

  get expiresAt(): Date {
    return new Date(this.expiresAtMs);
  }
}

/** Presence kept in this process's memory; entries expire lazily and by sweep. */
export class MemoryPresence implements Presence {
  #entries = new Map<string, StoredPresence>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  set(deviceId: string, state: string, instance: string, ttlSeconds: number): Promise<void> {
    const expiresAtMs = this.#now() + Math.max(1, ttlSeconds) * 1000;
    this.#entries.set(deviceId, new StoredPresence(deviceId, state, instance, expiresAtMs));
    return Promise.resolve();
  }

  clear(deviceId: string, instance: string): Promise<void> {
    if (this.#entries.get(deviceId)?.instance === instance) this.#entries.delete(deviceId);
    return Promise.resolve();
  }

  get(deviceId: string): Promise<PresenceEntry | null> {
    const entry = this.#entries.get(deviceId);
    if (!entry) return Promise.resolve(null);
    if (entry.expiresAtMs <= this.#now()) {
      this.#entries.delete(deviceId);
      return Promise.resolve(null);
    }
    return Promise.resolve(entry);
  }

  async getMany(deviceIds: readonly string[]): Promise<(PresenceEntry | null)[]> {
    const entries: (PresenceEntry | null)[] = [];
    for (const deviceId of deviceIds) entries.push(await this.get(deviceId));
    return entries;
  }

  /** Drops expired entries; returns how many went. */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAtMs <= now) {
        this.#entries.delete(id);
        removed++;
      }
    }
    return removed;
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}
