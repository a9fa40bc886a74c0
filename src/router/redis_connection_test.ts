import assert from "node:assert/strict";
import {
  checkRedisUrl,
  describeRedisUrl,
  MAX_RECONNECT_DELAY_MS,
  reconnectDelayMs,
} from "./redis_connection.ts";

Deno.test("reconnectDelayMs: doubles from 100 ms and is capped at 5 s", () => {
  const noJitter = () => 0;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => reconnectDelayMs(n, noJitter)),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000],
  );
  assert.equal(reconnectDelayMs(1_000_000, () => 0.999), MAX_RECONNECT_DELAY_MS);
  assert.equal(reconnectDelayMs(3, () => 0.5), 420);
  assert.equal(reconnectDelayMs(0, noJitter), 100);
});

Deno.test("describeRedisUrl: leaves credentials out", () => {
  assert.equal(
    describeRedisUrl("redis://user:hunter2@cache.internal:6380/2"),
    "redis://cache.internal:6380/2",
  );
  assert.equal(describeRedisUrl("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  assert.equal(describeRedisUrl("::"), "(invalid URL)");
});

Deno.test("checkRedisUrl: accepts redis: and rediss:, rejects others without echoing them", () => {
  checkRedisUrl("redis://127.0.0.1:6379");
  checkRedisUrl("rediss://:secret@example.org:6380/1");
  for (const url of ["", "127.0.0.1:6379", "http://a:hunter2@h", "redis://"]) {
    assert.throws(
      () => checkRedisUrl(url),
      (e: unknown) => e instanceof TypeError && !e.message.includes("hunter2"),
      url,
    );
  }
});
