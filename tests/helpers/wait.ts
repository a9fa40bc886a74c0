/**
 * Waiting on a condition instead of a fixed sleep: a test that sleeps and
 * then asserts that something happened fails whenever the machine is slower
 * than the sleep (a loaded CI runner), and wastes the sleep when it is not.
 */
import { WAIT_MS } from "./raw.ts";

/**
 * Resolves with the first truthy value `check` returns, polling every
 * `everyMs`; a `check` that throws counts as "not yet". Rejects naming `what`
 * (and the last error) once `ms` passed: a failure, never an assertion on speed.
 */
export async function until<T>(
  check: () => T | Promise<T>,
  what: string,
  { ms = WAIT_MS, everyMs = 25 }: { ms?: number; everyMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (performance.now() >= deadline) {
      throw new Error(`gave up waiting for ${what}${last ? ` (last: ${last})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
