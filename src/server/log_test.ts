import assert from "node:assert/strict";
import {
  createLogger,
  flatJsonLine,
  isoTime,
  isSensitiveKey,
  jsonLine,
  REDACTED_VALUE,
  requestId,
  withRequestLog,
} from "./log.ts";

function capture(format: "json" | "pretty" = "json") {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", format, write: (line) => lines.push(line) });
  return { lines, log };
}

/** What Deno.serve passes alongside a request (only the shape matters here). */
const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

Deno.test("json logger writes one record per line, filtered by level", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
  log.debug("hidden");
  log.info("shown", { connection: "c1", n: 5n });
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]);
  assert.equal(record.level, "info");
  assert.equal(record.message, "shown");
  assert.equal(record.connection, "c1");
  assert.equal(record.n, "5");
});

Deno.test("logger says which levels it writes (warn is the `warning` level)", () => {
  const log = createLogger({ level: "warning", format: "json", write: () => {} });
  assert.deepEqual(
    (["debug", "info", "warn", "error"] as const).map((level) => log.enabled?.(level)),
    [false, false, true, true],
  );
  const all = createLogger({ level: "trace", format: "json", write: () => {} });
  assert.equal(all.enabled?.("debug"), true);
});

Deno.test("secret-looking properties are redacted, bytes shown by length only", () => {
  for (const format of ["json", "pretty"] as const) {
    const { lines, log } = capture(format);
    log.info("x", {
      token: "tok-SECRET-1",
      adminToken: "tok-SECRET-2",
      session_id: "tok-SECRET-3",
      nested: { privateKey: "tok-SECRET-4", body: { text: "tok-SECRET-5" } },
      key: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      session_ttl: 60,
      device: "dev-1",
    });
    const line = lines[0];
    assert.doesNotMatch(line, /tok-SECRET/, format);
    assert.doesNotMatch(line, /deadbeef|222,173/, format);
    assert.match(line, /\[4 bytes\]/, format);
    assert.match(line, /dev-1/, format);
    assert.match(line, /60/, format);
    assert.ok(line.includes(REDACTED_VALUE), format);
  }
});

Deno.test("isSensitiveKey matches words, not substrings", () => {
  for (
    const k of ["token", "session", "sessionId", "device_private_key", "Authorization", "text"]
  ) {
    assert.equal(isSensitiveKey(k), true, k);
  }
  for (const k of ["connection", "device", "reason", "duration_ms", "tokenizer", "context"]) {
    assert.equal(isSensitiveKey(k), false, k);
  }
});

Deno.test("withRequestLog logs a thrown error with a request id and returns it", async () => {
  const { lines, log } = capture();
  const handler = withRequestLog(() => {
    throw new Error("boom");
  }, log);
  const response = await handler(
    new Request("https://x/api/thing?token=tok-SECRET-9", {
      headers: { authorization: "Bearer tok-SECRET-8" },
    }),
    INFO,
  );
  assert.equal(response.status, 500);
  const id = response.headers.get("x-request-id");
  assert.ok(id);
  assert.equal((await response.json()).request_id, id);
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]);
  assert.equal(record.message, "request failed");
  assert.equal(record.request, id);
  assert.equal(record.path, "/api/thing");
  assert.match(record.error, /boom/);
  assert.doesNotMatch(lines[0], /tok-SECRET/);
});

Deno.test("withRequestLog passes responses through untouched", async () => {
  const { lines, log } = capture();
  const ok = new Response("fine");
  assert.equal(await withRequestLog(() => ok, log)(new Request("https://x/"), INFO), ok);
  assert.equal(lines.length, 0);
});

Deno.test("requestId keeps a proxy's well-formed id, replaces anything else", () => {
  const withId = (v: string) => new Request("https://x/", { headers: { "x-request-id": v } });
  assert.equal(requestId(withId("abc-123.4:5_6")), "abc-123.4:5_6");
  assert.match(requestId(withId("bad id\n")), /^[0-9a-f-]{36}$/);
  assert.match(requestId(withId("x".repeat(65))), /^[0-9a-f-]{36}$/);
  assert.match(requestId(new Request("https://x/")), /^[0-9a-f-]{36}$/);
});

Deno.test("the flat JSON line is the general path's line, or null where it would differ", () => {
  const time = new Date(0).toISOString();
  const cases: Record<string, unknown>[] = [
    {},
    { connection: "c1", reason: undefined, device: 'd"1\u2028', duration_ms: 3.5 },
    { token: "secret", session_id: null, sessionCount: 2, ok: true, nan: NaN, neg: -0 },
    { "weird key\n": "v", text: "hidden", body: false, password: 12 },
    { lone: "\ud800", emoji: "\u{1F431}", empty: "" },
  ];
  for (const properties of cases) {
    const record = { time, level: "info", message: 'm "q"', ...properties };
    assert.equal(flatJsonLine(time, "info", 'm "q"', properties), jsonLine(record));
  }
  // What the flat line cannot write the same: left to the general path.
  for (
    const properties of [
      { n: 5n },
      { bytes: new Uint8Array(2) },
      { nested: { a: 1 } },
      { 1: "index" },
      { message: "again" },
    ]
  ) {
    assert.equal(flatJsonLine(time, "info", "m", properties), null);
  }
});

Deno.test("isoTime is toISOString, across milliseconds, seconds, days and odd years", () => {
  const starts = [
    0,
    1_764_990_000_000,
    1_764_979_199_990,
    -1_500,
    253_402_300_799_000,
    -62_198_755_200_500,
  ];
  for (const start of starts) {
    for (let ms = start; ms < start + 2_500; ms += 7) {
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    }
  }
  // Back and forth between seconds, and a fraction of a millisecond.
  for (const ms of [1_764_990_000_999, 1_764_990_001_000, 1_764_990_000_005, 1_764_990_000_000.5]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  assert.throws(() => isoTime(Number.NaN), RangeError);
});
