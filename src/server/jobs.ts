/**
 * The server's background jobs: a minute's housekeeping (expired queue
 * entries, sessions, pairing codes, idle presence and rate-limit keys) and
 * the bus watch that looks at the offline queues while notices may be lost.
 *
 * @module
 */
import { purgePairings } from "../api/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Bus, OfflineQueue, PeerRegistry, Presence } from "../router/mod.ts";
import { MemoryPresence } from "../router/mod.ts";
import type { RateLimits } from "../security/ratelimit/mod.ts";
import type { Store } from "../storage/mod.ts";

/** The parts the jobs look after. */
export interface JobParts {
  store: Store;
  offlineQueue: OfflineQueue;
  presence: Presence;
  bus: Bus;
  registry: PeerRegistry;
  limits: RateLimits;
  presenceTtlSeconds: number;
  log: Logger;
}

/** Running jobs; `stop()` clears every timer. */
export interface BackgroundJobs {
  stop(): void;
}

/** How often the housekeeping runs, ms. */
export const HOUSEKEEPING_INTERVAL_MS = 60_000;
/** How often the bus health is looked at, ms. */
export const BUS_WATCH_INTERVAL_MS = 2_000;

/** Starts the jobs. */
export function startBackgroundJobs(p: JobParts): BackgroundJobs {
  const warn = (what: string) => (error: unknown) =>
    p.log.warn(`${what} failed`, { error: String(error) });
  const housekeeping = setInterval(() => {
    // Each purge is retried by the next run; a failure only delays it.
    p.offlineQueue.purge().catch(warn("offline queue purge"));
    p.store.purgeExpiredSessions(new Date()).catch(warn("session purge"));
    purgePairings({ store: p.store, now: Date.now }).catch(warn("pairing code purge"));
    // Federation replay keys, kept past any peer's retries (IDEMPOTENCY_KEY_RETENTION_MS).
    p.store.purgeIdempotencyKeys(new Date()).catch(warn("idempotency key purge"));
    p.store.purgeExpiredKeyPackages(new Date()).catch(warn("key package purge"));
    if (p.presence instanceof MemoryPresence) p.presence.sweep();
    p.limits.sweep();
  }, HOUSEKEEPING_INTERVAL_MS);
  const watch = watchBus(p);
  const busWatch = setInterval(watch.tick, BUS_WATCH_INTERVAL_MS);
  return {
    stop() {
      clearInterval(housekeeping);
      clearInterval(busWatch);
      watch.stop();
    },
  };
}

/**
 * While the bus is down, offline-queue notices may be lost: look at the
 * queues anyway. When it comes back (possibly empty: Redis keeps nothing on
 * disk), republish presence, look at every queue now and once more after a
 * presence TTL — senders that found no presence meanwhile sent no notice.
 */
function watchBus(p: JobParts): { tick(): void; stop(): void } {
  let busWasHealthy = p.bus.healthy;
  let lookAgain: ReturnType<typeof setTimeout> | undefined;
  const kickAll = () => {
    for (const peer of p.registry.all()) peer.checkOfflineQueue();
  };
  return {
    tick() {
      const healthy = p.bus.healthy;
      if (!healthy) kickAll();
      else if (!busWasHealthy) {
        for (const peer of p.registry.all()) peer.refreshPresence();
        kickAll();
        // One pending look-again at a time, however often the bus flaps.
        clearTimeout(lookAgain);
        lookAgain = setTimeout(kickAll, p.presenceTtlSeconds * 1000);
      }
      busWasHealthy = healthy;
    },
    stop: () => clearTimeout(lookAgain),
  };
}
