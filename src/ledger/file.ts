/**
 * The file ledger: JSON lines forming a hash chain (see ./line.ts).
 *
 * Writing: one writer per file. Records are queued in call order and a
 * single drain loop appends them in batches (group commit): every batch is
 * one `write` followed by one `fdatasync`, and each `record()` resolves after
 * the sync that covers it. The file handle stays open. A failed batch is cut
 * back off the file (truncate to the last good size) so the chain on disk
 * stays intact, and its records are counted as failed.
 *
 * Two processes must not append to the same file (the chain would fork):
 * give each instance its own `ledger.target`.
 *
 * @module
 */
import { encodePreparedLine, GENESIS_PREV, lineHash, parseLedgerLine } from "./line.ts";
import type { Logger } from "../log/mod.ts";
import { type Ledger, type LedgerStats, prepareRecord } from "./ledger.ts";

/** The file cannot be opened for appending (unreadable, or a damaged tail). */
export class LedgerFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LedgerFileError";
  }
}

/** Options of {@link FileLedger.open}. */
export interface FileLedgerOptions {
  logger: Logger;
  /** Clock for `recorded_at` (tests). */
  now?: () => Date;
  /** Most records written per write+sync (default 256). */
  maxBatch?: number;
}

interface Pending {
  metadataJson: string;
  digest: Uint8Array;
  recordedAt: Date;
  done: () => void;
}

const NEWLINE = 0x0a;
const TAIL_CHUNK = 64 * 1024;

/** Appends hash-chained JSON lines to a file. Create with {@link FileLedger.open}. */
export class FileLedger implements Ledger {
  readonly keeps = true;
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #maxBatch: number;
  #size: number;
  #seq: number;
  #prev: string;
  #pending: Pending[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;
  /** Set when a failed batch could not be cut back off: appending would fork the chain. */
  #broken: string | null = null;
  #recorded = 0;
  #failed = 0;

  private constructor(
    path: string,
    file: Deno.FsFile,
    tail: { size: number; seq: number; prev: string },
    options: FileLedgerOptions,
  ) {
    this.path = path;
    this.#file = file;
    this.#size = tail.size;
    this.#seq = tail.seq;
    this.#prev = tail.prev;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    this.#maxBatch = options.maxBatch ?? 256;
  }

  /**
   * Opens (creating it and its parent directories if needed) `path` and
   * continues the chain from its last line. Throws {@link LedgerFileError}
   * when the last line is not a complete record: the file was damaged or a
   * write was cut short, and appending would hide that.
   */
  static async open(path: string, options: FileLedgerOptions): Promise<FileLedger> {
    const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
    if (cut > 0) await Deno.mkdir(path.slice(0, cut), { recursive: true });
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    } catch (error) {
      throw new LedgerFileError(`cannot open ledger file ${path}: ${(error as Error).message}`);
    }
    try {
      const tail = await readTail(file, path);
      await file.seek(tail.size, Deno.SeekMode.Start);
      return new FileLedger(path, file, tail, options);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Sequence number of the last record written. */
  get lastSeq(): number {
    return this.#seq;
  }

  record(metadata: Record<string, unknown>, digest?: Uint8Array): Promise<void> {
    if (this.#closed) {
      this.#failed++;
      this.#logger.warn("ledger record after close dropped", { ledger: this.path });
      return Promise.resolve();
    }
    let prepared: { metadataJson: string; digest: Uint8Array };
    try {
      prepared = prepareRecord(metadata, digest);
    } catch (error) {
      this.#failed++;
      this.#logger.error("ledger record dropped", {
        ledger: this.path,
        error: (error as Error).message,
      });
      return Promise.resolve();
    }
    const recordedAt = this.#now();
    return new Promise((done) => {
      this.#pending.push({ ...prepared, recordedAt, done });
      this.#kick();
    });
  }

  async flush(): Promise<void> {
    while (this.#draining !== null) await this.#draining;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    this.#file.close();
  }

  stats(): LedgerStats {
    return { recorded: this.#recorded, failed: this.#failed };
  }

  #kick(): void {
    if (this.#draining !== null) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
      if (this.#pending.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      try {
        await this.#writeBatch(batch);
      } catch (error) {
        // Never leave callers waiting or a rejection unhandled: fail the batch.
        this.#fail(batch, `unexpected: ${(error as Error).message}`);
      }
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    if (this.#broken !== null) {
      this.#fail(batch, this.#broken);
      return;
    }
    let seq = this.#seq;
    let prev = this.#prev;
    const lines: Uint8Array[] = [];
    for (const item of batch) {
      const line = encodePreparedLine({ ...item, seq: ++seq, prev });
      prev = lineHash(line);
      lines.push(line);
    }
    const bytes = joinLines(lines);
    try {
      await writeAll(this.#file, bytes);
      await this.#file.syncData();
    } catch (error) {
      await this.#rollBack();
      this.#fail(batch, `write failed: ${(error as Error).message}`);
      return;
    }
    this.#size += bytes.length;
    this.#seq = seq;
    this.#prev = prev;
    this.#recorded += batch.length;
    for (const item of batch) item.done();
  }

  async #rollBack(): Promise<void> {
    try {
      await this.#file.truncate(this.#size);
      await this.#file.seek(this.#size, Deno.SeekMode.Start);
    } catch (error) {
      this.#broken = `ledger file left in an unknown state (${(error as Error).message}); ` +
        "restart after checking it with `commucat ledger verify`";
      this.#logger.error("ledger disabled", { ledger: this.path, error: this.#broken });
    }
  }

  #fail(items: Pending[], reason: string): void {
    this.#failed += items.length;
    this.#logger.error("ledger record dropped", {
      ledger: this.path,
      records: items.length,
      error: reason,
    });
    for (const item of items) item.done();
  }
}

function joinLines(lines: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const line of lines) length += line.length + 1;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const line of lines) {
    out.set(line, offset);
    offset += line.length;
    out[offset++] = NEWLINE;
  }
  return out;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

async function readAt(file: Deno.FsFile, position: number, length: number): Promise<Uint8Array> {
  await file.seek(position, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const n = await file.read(out.subarray(offset));
    if (n === null) throw new LedgerFileError("ledger file shrank while it was being read");
    offset += n;
  }
  return out;
}

/** Size, last seq and the hash of the last line, reading only the end of the file. */
async function readTail(
  file: Deno.FsFile,
  path: string,
): Promise<{ size: number; seq: number; prev: string }> {
  const size = (await file.stat()).size;
  if (size === 0) return { size, seq: 0, prev: GENESIS_PREV };
  const refuse = (why: string) =>
    new LedgerFileError(
      `ledger file ${path} ${why}; refusing to append. Check it with ` +
        "`commucat ledger verify`, then move it aside or repair its end.",
    );
  let tail = await readAt(file, size - 1, 1);
  if (tail[0] !== NEWLINE) throw refuse("ends with an incomplete line (a write was cut short?)");
  // Read backwards until the newline that ends the line before the last one.
  let start = size - 1;
  let lineStart = -1;
  while (lineStart < 0 && start > 0) {
    const from = Math.max(0, start - TAIL_CHUNK);
    const chunk = await readAt(file, from, start - from);
    tail = concat(chunk, tail);
    start = from;
    const cut = tail.lastIndexOf(NEWLINE, tail.length - 2);
    if (cut >= 0) lineStart = start + cut + 1;
  }
  if (lineStart < 0) lineStart = 0;
  const line = tail.subarray(tail.length - (size - lineStart), tail.length - 1);
  const parsed = parseLedgerLine(line);
  if (!parsed.ok) throw refuse(`has a damaged last line (${parsed.reason})`);
  return { size, seq: parsed.fields.seq, prev: lineHash(line) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
