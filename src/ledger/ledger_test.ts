import assert from "node:assert/strict";
import { blake3, toHex, utf8 } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  canonicalJson,
  createLedger,
  DebugLedger,
  FileLedger,
  GENESIS_PREV,
  LedgerConfigError,
  LedgerFileError,
  lineHash,
  NullLedger,
  verifyLedgerFile,
} from "./mod.ts";

interface Logged {
  level: string;
  message: string;
  props: Record<string, unknown> | undefined;
}

function captureLogger(): Logger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (message: string, props?: Record<string, unknown>) =>
    void lines.push({ level, message, props });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "commucat-ledger-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function clock(start = Date.UTC(2025, 0, 2, 3, 4, 5, 678)): () => Date {
  let t = start;
  return () => new Date(t += 1000);
}

/** Writes `n` records and returns the file's lines (without the final empty one). */
async function writeLedger(path: string, n: number): Promise<string[]> {
  const ledger = await FileLedger.open(path, { logger: captureLogger(), now: clock() });
  for (let i = 1; i <= n; i++) {
    await ledger.record({ scope: "test", index: i, nested: { z: 1, a: [i, "x"] } });
  }
  await ledger.close();
  const text = await Deno.readTextFile(path);
  return text.split("\n").slice(0, -1);
}

Deno.test("canonical JSON sorts keys recursively and encodes bytes as hex", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, undefined], c: new Uint8Array([0xab]) }, u: undefined }),
    '{"a":{"c":"ab","d":[1,null]},"b":1}',
  );
  assert.equal(
    canonicalJson({ n: 10n, t: new Date(0) }),
    '{"n":"10","t":"1970-01-01T00:00:00.000Z"}',
  );
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /cycle/);
  assert.throws(() => canonicalJson({ x: NaN }), /non-finite/);
});

Deno.test("file ledger writes a hash chain that verifies", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/nested/dir/ledger.jsonl`; // parents are created
    const lines = await writeLedger(path, 3);
    assert.equal(lines.length, 3);
    const first = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(first), ["digest", "metadata", "prev", "recorded_at", "seq"]);
    assert.equal(first.prev, GENESIS_PREV);
    assert.equal(first.seq, 1);
    assert.equal(first.recorded_at, "2025-01-02T03:04:06.678+00:00");
    // Default digest: BLAKE3 of the canonical metadata.
    assert.equal(first.digest, toHex(blake3(utf8(canonicalJson(first.metadata)))));
    assert.equal(lines[0].includes('"nested":{"a":[1,"x"],"z":1}'), true);
    for (let i = 1; i < 3; i++) {
      const record = JSON.parse(lines[i]);
      assert.equal(record.seq, i + 1);
      assert.equal(record.prev, toHex(blake3(utf8(lines[i - 1]))));
    }
    assert.deepEqual(await verifyLedgerFile(path), {
      ok: true,
      records: 3,
      head: lineHash(utf8(lines[2])),
    });
  });
});

Deno.test("an explicit digest is recorded as given", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/l.jsonl`;
    const ledger = await FileLedger.open(path, { logger: captureLogger() });
    const digest = blake3(utf8("session-1"));
    const metadata: Record<string, unknown> = { device: "d", user: "u", session: "session-1" };
    const pending = ledger.record(metadata, digest);
    metadata.user = "changed after the call"; // the record is fixed at the call
    await pending;
    await ledger.close();
    const record = JSON.parse((await Deno.readTextFile(path)).trim());
    assert.equal(record.digest, toHex(digest));
    assert.deepEqual(record.metadata, { device: "d", session: "session-1", user: "u" });
  });
});

async function tampered(
  edit: (lines: string[]) => string,
): Promise<Awaited<ReturnType<typeof verifyLedgerFile>>> {
  let result: Awaited<ReturnType<typeof verifyLedgerFile>> | undefined;
  await withDir(async (dir) => {
    const path = `${dir}/ledger.jsonl`;
    const lines = await writeLedger(path, 4);
    await Deno.writeTextFile(path, edit(lines));
    result = await verifyLedgerFile(path);
  });
  return result!;
}

const joined = (lines: string[]) => lines.map((l) => l + "\n").join("");

Deno.test("verify: an edited field in line 2 is reported at line 2", async () => {
  const result = await tampered((lines) => {
    lines[1] = lines[1].replace('"index":2', '"index":7');
    return joined(lines);
  });
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.line, 2);
  assert.match(!result.ok ? result.reason : "", /content changed.*line 3/);
});

Deno.test("verify: an edited digest in line 2 is reported at line 2", async () => {
  const result = await tampered((lines) => {
    lines[1] = lines[1].replace(/"digest":"(.)/, (_m, c) => `"digest":"${c === "0" ? "1" : "0"}`);
    return joined(lines);
  });
  assert.deepEqual(!result.ok && result.line, 2);
});

Deno.test("verify: a deleted line 2 is reported at line 2", async () => {
  const result = await tampered((lines) => joined([lines[0], ...lines.slice(2)]));
  assert.equal(!result.ok && result.line, 2);
  assert.match(!result.ok ? result.reason : "", /seq 3 where 2 was expected: a record is missing/);
});

Deno.test("verify: swapped lines 2 and 3 are reported at line 2", async () => {
  const result = await tampered((lines) => joined([lines[0], lines[2], lines[1], lines[3]]));
  assert.equal(!result.ok && result.line, 2);
  assert.match(!result.ok ? result.reason : "", /seq 3 where 2/);
});

Deno.test("verify: a renumbered deletion still breaks the prev link", async () => {
  // Delete line 2 and fix up the seq numbers after it: the prev chain catches it.
  const result = await tampered((lines) => {
    const kept = [lines[0], ...lines.slice(2)].map((line, i) =>
      line.replace(/"seq":\d+}$/, `"seq":${i + 1}}`)
    );
    return joined(kept);
  });
  assert.equal(!result.ok && result.line, 1);
  assert.match(!result.ok ? result.reason : "", /line 2 was edited or put in place of a removed/);
});

Deno.test("verify: a last line truncated mid-way is reported at that line", async () => {
  const result = await tampered((lines) => joined(lines.slice(0, 3)) + lines[3].slice(0, 40));
  assert.equal(!result.ok && result.line, 4);
  assert.match(!result.ok ? result.reason : "", /incomplete last line/);
});

Deno.test("verify: appended garbage is reported at its line", async () => {
  const garbage = await tampered((lines) => joined([...lines, "garbage"]));
  assert.deepEqual(garbage, { ok: false, line: 5, reason: "not valid JSON" });
  const record = await tampered((lines) => joined([...lines, '{"seq":5}']));
  assert.deepEqual(record, { ok: false, line: 5, reason: 'missing "digest"' });
  const blank = await tampered((lines) => joined([...lines, ""]));
  assert.deepEqual(blank, { ok: false, line: 5, reason: "empty line" });
});

Deno.test("verify: bad digest format and a first record not at genesis", async () => {
  const digest = await tampered((lines) => {
    lines[2] = lines[2].replace(/"digest":"[0-9a-f]{64}"/, '"digest":"ABC"');
    return joined(lines);
  });
  assert.deepEqual(digest, { ok: false, line: 3, reason: "digest is not 64 lowercase hex digits" });
  const headless = await tampered((lines) => joined(lines.slice(1)));
  assert.equal(!headless.ok && headless.line, 1);
});

Deno.test("verify: an empty file is a valid ledger with no records", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/empty.jsonl`, "");
    assert.deepEqual(await verifyLedgerFile(`${dir}/empty.jsonl`), {
      ok: true,
      records: 0,
      head: GENESIS_PREV,
    });
    await assert.rejects(verifyLedgerFile(`${dir}/missing.jsonl`), Deno.errors.NotFound);
  });
});

Deno.test("reopening continues the chain", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ledger.jsonl`;
    await writeLedger(path, 2);
    const again = await FileLedger.open(path, { logger: captureLogger() });
    assert.equal(again.lastSeq, 2);
    await again.record({ after: "reopen" });
    await again.close();
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok && result.records, 3);
  });
});

Deno.test("reopening finds the chain end behind a last line longer than one read", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ledger.jsonl`;
    const first = await FileLedger.open(path, { logger: captureLogger() });
    await first.record({ small: true });
    await first.record({ big: "x".repeat(200_000) });
    await first.close();
    const again = await FileLedger.open(path, { logger: captureLogger() });
    assert.equal(again.lastSeq, 2);
    await again.record({ small: false });
    await again.close();
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok && result.records, 3);
  });
});

Deno.test("reopening refuses a file whose last line is damaged", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ledger.jsonl`;
    const lines = await writeLedger(path, 2);
    await Deno.writeTextFile(path, joined([lines[0]]) + lines[1].slice(0, 30));
    await assert.rejects(
      FileLedger.open(path, { logger: captureLogger() }),
      (error: Error) =>
        error instanceof LedgerFileError &&
        /incomplete line.*refusing to append/.test(error.message),
    );
    await Deno.writeTextFile(path, joined([lines[0], "not json"]));
    await assert.rejects(
      FileLedger.open(path, { logger: captureLogger() }),
      /damaged last line \(not valid JSON\)/,
    );
  });
});

Deno.test("concurrent records are serialised into one intact chain", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ledger.jsonl`;
    const ledger = await FileLedger.open(path, { logger: captureLogger(), maxBatch: 7 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => ledger.record({ i })));
    await ledger.close();
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok && result.records, 50);
    const order = (await Deno.readTextFile(path)).trim().split("\n").map((l) =>
      JSON.parse(l).metadata.i
    );
    assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(ledger.stats(), { recorded: 50, failed: 0 });
  });
});

Deno.test("failures are counted and logged, never thrown, and leave the chain intact", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ledger.jsonl`;
    const logger = captureLogger();
    const ledger = await FileLedger.open(path, { logger });
    const cyclic: Record<string, unknown> = { secret: "do-not-log" };
    cyclic.self = cyclic;
    await ledger.record({ ok: 1 });
    await ledger.record(cyclic);
    await ledger.record({ ok: 2 }, new Uint8Array(5));
    await ledger.record({ ok: 3 });
    await ledger.close();
    await ledger.record({ late: true });
    assert.deepEqual(ledger.stats(), { recorded: 2, failed: 3 });
    assert.equal(JSON.stringify(logger.lines).includes("do-not-log"), false);
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok && result.records, 2);
  });
});

Deno.test("null and debug ledgers", async () => {
  const none = new NullLedger();
  await none.record({ a: 1 });
  await none.flush();
  await none.close();
  assert.deepEqual(none.stats(), { recorded: 0, failed: 0 });

  const logger = captureLogger();
  const debug = new DebugLedger(logger);
  await debug.record({ user: "alice", remote_addr: "10.0.0.1" });
  const digest = blake3(utf8("x"));
  await debug.record({ user: "bob" }, digest);
  await debug.record({ user: "carol" }, new Uint8Array(3));
  assert.deepEqual(logger.lines.slice(0, 2).map((l) => [l.level, l.props]), [
    ["info", {
      ledger: "debug",
      digest: toHex(blake3(utf8('{"remote_addr":"10.0.0.1","user":"alice"}'))),
    }],
    ["info", { ledger: "debug", digest: toHex(digest) }],
  ]);
  assert.equal(JSON.stringify(logger.lines).includes("alice"), false);
  assert.deepEqual(debug.stats(), { recorded: 2, failed: 1 });
});

Deno.test("createLedger picks the adapter and checks the file target", async () => {
  const logger = captureLogger();
  assert.ok(await createLedger({ mode: "null", logger }) instanceof NullLedger);
  assert.ok(await createLedger({ mode: "debug", logger }) instanceof DebugLedger);
  await assert.rejects(createLedger({ mode: "file", logger }), LedgerConfigError);
  await withDir(async (dir) => {
    const ledger = await createLedger({ mode: "file", target: `${dir}/l.jsonl`, logger });
    assert.ok(ledger instanceof FileLedger);
    await ledger.close();
  });
});
