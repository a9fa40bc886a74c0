import assert from "node:assert/strict";
import { retryAfterSeconds, tooManyHandshakes, tooManyRequests } from "./response.ts";

Deno.test("429: problem+json shape with retry-after in whole seconds", async () => {
  const response = tooManyRequests(10_000);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  assert.equal(response.headers.get("retry-after"), "10");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.deepEqual(await response.json(), {
    type: "about:blank",
    title: "Too Many Requests",
    status: 429,
    detail: "rate limit exceeded; retry after 10 s",
  });
});

Deno.test("429: retry-after rounds up and is at least 1", async () => {
  const cases: [number, number][] = [
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [2500, 3],
    [0, 1],
    [-5, 1],
    [NaN, 1],
  ];
  for (const [ms, seconds] of cases) {
    assert.equal(retryAfterSeconds(ms), seconds, `${ms} ms`);
    const response = tooManyRequests(ms);
    assert.equal(response.headers.get("retry-after"), String(seconds), `${ms} ms`);
    assert.equal((await response.json()).detail, `rate limit exceeded; retry after ${seconds} s`);
  }
});

Deno.test("503 for a full handshake gate", async () => {
  const response = tooManyHandshakes();
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  assert.equal(response.headers.get("retry-after"), "1");
  assert.deepEqual(await response.json(), {
    type: "about:blank",
    title: "Service Unavailable",
    status: 503,
    detail: "too many handshakes in flight; retry after 1 s",
  });
});
