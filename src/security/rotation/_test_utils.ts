/**
 * Shared set-up of the rotation tests: a clock the test moves, and a fresh
 * in-memory SQLite store per test.
 *
 * @module
 */
import { openStore, type Store } from "../../storage/mod.ts";

/** A clock at `start` (ms) that only `advance` moves. */
export function testClock(start = Date.UTC(2025, 5, 1)) {
  const clock = { t: start, now: () => new Date(clock.t), advance: (ms: number) => clock.t += ms };
  return clock;
}

/** Runs `fn` with a migrated in-memory SQLite store, closed afterwards. */
export async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore({ backend: "sqlite", path: ":memory:" }, { migrate: true });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}
