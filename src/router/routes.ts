/**
 * The channel route table: routes are persisted in the store and cached in
 * memory (bounded: clients pick channel ids freely); a change is announced
 * on the bus so other instances drop their cached copy.
 *
 * @module
 */
import type { RouteRecord, Store } from "../storage/mod.ts";
import type { Bus } from "./bus.ts";
import { RouteError } from "./errors.ts";

/** Dependencies of the route table. */
export interface RouteTableOptions {
  store: Pick<Store, "getRoute" | "putRoute" | "deleteRoute">;
  bus: Bus;
  instanceId: string;
  /** Routes kept in memory (default 65 536); the oldest cached go first. */
  maxCached?: number;
  /** Told when a route announcement could not be sent (other instances keep a stale copy). */
  onAnnounceFailed?: (error: unknown) => void;
}

/** Channel routes: persisted, cached, announced. */
export class RouteTable {
  readonly #o: RouteTableOptions;
  readonly #cache = new Map<number, RouteRecord | null>();
  readonly #maxCached: number;

  constructor(options: RouteTableOptions) {
    this.#o = options;
    this.#maxCached = Math.max(1, options.maxCached ?? 65_536);
  }

  /** Routes cached in memory now. */
  get cachedCount(): number {
    return this.#cache.size;
  }

  /** The cached route of `channel`: undefined when not cached, null when cached as absent. */
  cached(channel: number): RouteRecord | null | undefined {
    return this.#cache.get(channel);
  }

  /** The route of `channel`, from the cache or the store. */
  async get(channel: number): Promise<RouteRecord | null> {
    if (this.#cache.has(channel)) return this.#cache.get(channel) ?? null;
    const route = await this.#o.store.getRoute(channel);
    this.#remember(channel, route);
    return route;
  }

  /** Stores `route` (replacing the channel's), caches and announces it. */
  async put(route: RouteRecord): Promise<void> {
    await this.#o.store.putRoute(route);
    this.#remember(route.channel, route);
    await this.#announce(route.channel);
  }

  /** Deletes the route of `channel`, caches its absence and announces it. */
  async delete(channel: number): Promise<void> {
    await this.#o.store.deleteRoute(channel);
    this.#remember(channel, null);
    await this.#announce(channel);
  }

  /** Forgets cached routes (another instance changed them); all when no channel is given. */
  invalidate(channel?: number): void {
    if (channel === undefined) this.#cache.clear();
    else this.#cache.delete(channel);
  }

  /** Forgets every cached route `predicate` selects (e.g. after an unfriending). */
  invalidateWhere(predicate: (route: RouteRecord) => boolean): void {
    for (const [channel, route] of this.#cache) {
      if (route !== null && predicate(route)) this.#cache.delete(channel);
    }
  }

  #remember(channel: number, route: RouteRecord | null): void {
    this.#cache.delete(channel);
    this.#cache.set(channel, route);
    // Map keeps insertion order: the first key is the oldest entry.
    if (this.#cache.size > this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!);
  }

  async #announce(channel: number): Promise<void> {
    await this.#o.bus.broadcast({ kind: "route", channel, from: this.#o.instanceId }).catch(
      (error: unknown) => this.#o.onAnnounceFailed?.(error),
    );
  }
}

/** Throws {@link RouteError} unless `route` exists and `sender` is one of its members. */
export function checkMember(
  sender: { readonly deviceId: string },
  channel: number,
  route: RouteRecord | null,
): void {
  if (!route) {
    throw new RouteError("no_route", `channel ${channel} has no route; send Join first`);
  }
  if (!route.members.includes(sender.deviceId)) {
    throw new RouteError("not_member", `device is not a member of channel ${channel}`);
  }
}
