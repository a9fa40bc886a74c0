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
  const store = await openStore({ backend: "sqlite", path: `${dir}/r.db` }, {
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
