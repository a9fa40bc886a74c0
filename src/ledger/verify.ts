/**
 * Checks a file ledger from its first line to its last: every line a record,
 * `seq` counting 1, 2, 3…, and every `prev` equal to the BLAKE3 of the line
 * before it. Reads the file as a stream, so size does not matter.
 *
 * What it cannot see: a change to the LAST line (nothing after it commits to
 * it) or the removal of whole lines at the end. Keep the `head` hash from a
 * successful run somewhere else to detect those later.
 *
 * @module
 */
import { GENESIS_PREV, lineHash, parseLedgerLine } from "./line.ts";

/** Outcome of {@link verifyLedgerFile}. */
export type LedgerVerification =
  | { ok: true; records: number; head: string }
  | { ok: false; line: number; reason: string };

/** Longest line accepted (a record's metadata is small; this bounds memory). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/**
 * Verifies the ledger at `path`, naming the first bad line. `head` is the
 * hash of the last line (64 zeros for an empty file). I/O errors (missing
 * file, no permission) reject.
 */
export async function verifyLedgerFile(path: string): Promise<LedgerVerification> {
  using file = await Deno.open(path, { read: true });
  let lineNo = 0;
  let expectedSeq = 1;
  let prevHash = GENESIS_PREV;
  for await (const { line, terminated } of readLines(file.readable)) {
    lineNo++;
    if (line === null) {
      return { ok: false, line: lineNo, reason: `longer than ${MAX_LINE_BYTES} bytes` };
    }
    const parsed = parseLedgerLine(line);
    if (!parsed.ok) {
      const reason = terminated
        ? parsed.reason
        : `incomplete last line (${parsed.reason}, no newline): the file was cut short`;
      return { ok: false, line: lineNo, reason };
    }
    const { seq, prev } = parsed.fields;
    if (seq !== expectedSeq) {
      return {
        ok: false,
        line: lineNo,
        reason: `seq ${seq} where ${expectedSeq} was expected: ` +
          (seq > expectedSeq ? "a record is missing before it" : "a record is repeated") +
          " or records are out of order",
      };
    }
    if (prev !== prevHash) {
      if (lineNo === 1) {
        return { ok: false, line: 1, reason: "prev of the first record is not 64 zeros" };
      }
      return {
        ok: false,
        line: lineNo - 1,
        reason: `content changed: its hash no longer matches the prev recorded in line ${lineNo}` +
          ` (this line was edited, or line ${lineNo} was edited or put in place of a removed one)`,
      };
    }
    if (!terminated) {
      return { ok: false, line: lineNo, reason: "incomplete last line (no newline at the end)" };
    }
    prevHash = lineHash(line);
    expectedSeq++;
  }
  return { ok: true, records: lineNo, head: prevHash };
}

/** Splits a byte stream on `\n`; `line` is null for a line over the limit. */
async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<{ line: Uint8Array | null; terminated: boolean }> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of stream) {
    buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
    let start = 0;
    for (let i = buffer.indexOf(0x0a); i >= 0; i = buffer.indexOf(0x0a, start)) {
      yield { line: buffer.slice(start, i), terminated: true };
      start = i + 1;
    }
    buffer = buffer.slice(start);
    if (buffer.length > MAX_LINE_BYTES) {
      yield { line: null, terminated: false };
      return;
    }
  }
  if (buffer.length > 0) yield { line: buffer, terminated: false };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
