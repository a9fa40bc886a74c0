import assert from "node:assert/strict";
import { formatRfc3339Nanos, parseRfc3339Nanos, TimestampError } from "./time.ts";

Deno.test("parseRfc3339Nanos: exact nanoseconds, offsets, no Date rounding", () => {
  assert.equal(parseRfc3339Nanos("1970-01-01T00:00:00Z"), 0n);
  assert.equal(parseRfc3339Nanos("2025-03-01T12:00:00.123456789Z"), 1740830400123456789n);
  assert.equal(parseRfc3339Nanos("2025-03-01T12:00:00.1Z"), 1740830400100000000n);
  assert.equal(parseRfc3339Nanos("2025-03-01T14:00:00.000000001+02:00"), 1740830400000000001n);
  assert.equal(parseRfc3339Nanos("1969-12-31T23:59:59.999999999Z"), -1n);
  assert.equal(parseRfc3339Nanos("2000-02-29T00:00:00z"), 951782400000000000n);
  assert.equal(parseRfc3339Nanos("2262-04-11T23:47:16.854775807Z"), (1n << 63n) - 1n);
  for (
    const bad of [
      "2025-03-01 12:00:00Z",
      "2025-03-01T12:00:00",
      "2025-03-01T12:00:00.1234567890Z",
      "2025-02-29T00:00:00Z",
      "2025-13-01T00:00:00Z",
      "2025-03-01T24:00:00Z",
      "2016-12-31T23:59:60Z",
      "2262-04-11T23:47:16.854775808Z",
      "",
    ]
  ) {
    assert.throws(() => parseRfc3339Nanos(bad), TimestampError, bad);
  }
});

Deno.test("formatRfc3339Nanos: chrono AutoSi fraction digits, round trip", () => {
  assert.equal(formatRfc3339Nanos(1740830400000000000n), "2025-03-01T12:00:00Z");
  assert.equal(formatRfc3339Nanos(1740830400120000000n), "2025-03-01T12:00:00.120Z");
  assert.equal(formatRfc3339Nanos(1740830400123400000n), "2025-03-01T12:00:00.123400Z");
  assert.equal(formatRfc3339Nanos(1740830400123456789n), "2025-03-01T12:00:00.123456789Z");
  assert.equal(formatRfc3339Nanos(-1n), "1969-12-31T23:59:59.999999999Z");
  for (const n of [0n, -1n, 1740830400123456789n, 951782400000001000n]) {
    assert.equal(parseRfc3339Nanos(formatRfc3339Nanos(n)), n);
  }
});
