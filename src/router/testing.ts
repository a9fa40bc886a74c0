/**
 * Test support (imported by tests only, never through `mod.ts`): a router
 * with everything it needs in one process — a temporary SQLite store, peer
 * registry, memory presence, local bus and offline queue — for unit tests of
 * the router and of what plugs into it (calls, wiring).
 *
 * @module
 */
import { openStore, type Store } from "../storage/mod.ts";
import type { AccessPolicy } from "./access.ts";
import { LocalBus } from "./bus.ts";
import type { KeptCopiesLimits, WindowClock } from "./kept_copies.ts";
import { OfflineQueue } from "./offline_queue.ts";
import { MemoryPresence } from "./presence.ts";
import { PeerRegistry } from "./registry.ts";
import { type RemoteRelay, Router } from "./router.ts";

/** Options of {@link openRouterWorld}. */
export interface RouterWorldOptions {
  /** Prefix of the temporary directory (names the test in `ls /tmp`). */
  prefix: string;
  /** Default `i1`. */
  instanceId?: string;
  /** Default: everyone may reach everyone. */
  access?: AccessPolicy;
  remote?: RemoteRelay;
  maxCachedRoutes?: number;
  /** The offline queue's durable-copy window, ms (default 0: written each turn). */
  durableCopyDelayMs?: number;
  keptLimits?: KeptCopiesLimits;
  /** The offline queue's clock (default: the system's). */
  clock?: WindowClock;
  /** Opens the store instead of a fresh SQLite file (e.g. PostgreSQL); closed with the world. */
  openStore?: () => Promise<Store>;
}

/** One router and its dependencies; `close()` flushes and removes everything. */
export interface RouterWorld {
  readonly store: Store;
  readonly registry: PeerRegistry;
  readonly presence: MemoryPresence;
  readonly bus: LocalBus;
  readonly offlineQueue: OfflineQueue;
  readonly router: Router;
  close(): Promise<void>;
}

/** Builds a {@link RouterWorld} in a fresh temporary directory. */
export async function openRouterWorld(options: RouterWorldOptions): Promise<RouterWorld> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  const store = options.openStore
    ? await options.openStore()
    : await openStore({ backend: "sqlite", path: `${dir}/r.db` }, {
      migrate: true,
      createIfNew: true,
    });
  const instanceId = options.instanceId ?? "i1";
  const registry = new PeerRegistry();
  const presence = new MemoryPresence();
  const bus = new LocalBus();
  const newId = (c: string) => `${c}:${crypto.randomUUID()}`;
  const offlineQueue = new OfflineQueue({
    store,
    registry,
    presence,
    bus,
    instanceId,
    ttlSeconds: 60,
    newId,
    durableCopyDelayMs: options.durableCopyDelayMs,
    keptLimits: options.keptLimits,
    clock: options.clock,
  });
  const router = new Router({
    store,
    registry,
    presence,
    bus,
    offlineQueue,
    access: options.access ?? { mayReach: () => Promise.resolve(true) },
    remote: options.remote,
    instanceId,
    presenceTtlSeconds: 60,
    newId,
    maxCachedRoutes: options.maxCachedRoutes,
  });
  await bus.subscribe(instanceId, () => {});
  return {
    store,
    registry,
    presence,
    bus,
    offlineQueue,
    router,
    async close() {
      await offlineQueue.flush();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * A clock whose time moves only when told ({@link advance}), with the
 * timers of a {@link WindowClock}.
 */
export class FakeClock implements WindowClock {
  #now: number;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now = (): number => this.#now;

  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time on by `ms`, running each timer that falls due, in order, at its time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | null = null;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (next === null || entry[1].at < next[1].at)) next = entry;
      }
      if (next === null) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].callback();
    }
    this.#now = end;
  }
}
