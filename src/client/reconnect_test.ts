import assert from "node:assert/strict";
import { backoffDelay } from "./reconnect.ts";

Deno.test("backoff grows by the factor and stops at the cap", () => {
  const delays = [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 1000 }));
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
});
