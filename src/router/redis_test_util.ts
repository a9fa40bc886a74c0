/**
 * Shared helpers of the Redis tests (not part of the public face).
 *
 * @module
 */

/** The test Redis, from `COMMUCAT_TEST_REDIS_URL`. */
export const redisUrl: string | undefined = Deno.env.get("COMMUCAT_TEST_REDIS_URL");

/** Registers a test that needs the shared test Redis; ignored (and named so) without it. */
export function redisTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: redisUrl ? name : `${name} (skipped: COMMUCAT_TEST_REDIS_URL not set)`,
    ignore: !redisUrl,
    fn,
  });
}

/** A key prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${crypto.randomUUID()}:`;
}

/** Polls `condition` until it holds; fails the test after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
