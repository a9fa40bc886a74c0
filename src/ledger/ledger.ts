/**
 * The audit ledger seam and its two simple adapters. Recording never throws
 * into the caller: a failure is logged and counted (upstream logs and
 * ignores ledger failures), so an audit outage cannot break a handshake.
 *
 * @module
 */
import { blake3, toHex, utf8 } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import { canonicalJson } from "./canonical.ts";

/** What a ledger has done since it was opened. */
export interface LedgerStats {
  /** Records accepted (written, or logged for the debug adapter). */
  recorded: number;
  /** Records lost to an error (bad metadata, I/O failure, closed ledger). */
  failed: number;
}

/** An append-only audit log. */
export interface Ledger {
  /**
   * False when records are discarded (`ledger.mode = "null"`): callers may
   * skip building them (digests, metadata) on hot paths.
   */
  readonly keeps: boolean;
  /**
   * Records one event. `digest` (32 bytes) defaults to BLAKE3 of the
   * canonical JSON of `metadata`. Resolves once the record is stored (file:
   * written and synced); never rejects.
   */
  record(metadata: Record<string, unknown>, digest?: Uint8Array): Promise<void>;
  /** Resolves when every record accepted so far is stored. */
  flush(): Promise<void>;
  /** Flushes and releases resources; later records are counted as failed. */
  close(): Promise<void>;
  /** Counters for metrics. */
  stats(): LedgerStats;
}

/** Length of a record digest in bytes. */
export const DIGEST_LENGTH = 32;

/**
 * The digest recorded for `metadata`: `digest` when given (must be 32
 * bytes), else BLAKE3 of the canonical metadata JSON. Throws on bad input.
 */
export function recordDigest(
  metadata: Record<string, unknown>,
  digest?: Uint8Array,
): Uint8Array {
  return prepareRecord(metadata, digest).digest;
}

/**
 * The canonical metadata JSON and the digest of a record, fixed at the time
 * of the call (later changes to `metadata` do not reach the ledger).
 */
export function prepareRecord(
  metadata: Record<string, unknown>,
  digest?: Uint8Array,
): { metadataJson: string; digest: Uint8Array } {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new TypeError("ledger metadata must be an object");
  }
  const metadataJson = canonicalJson(metadata);
  if (digest === undefined) return { metadataJson, digest: blake3(utf8(metadataJson)) };
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_LENGTH) {
    throw new RangeError(`a ledger digest must be ${DIGEST_LENGTH} bytes`);
  }
  return { metadataJson, digest: digest.slice() };
}

/** Discards everything (the default, `ledger.mode = "null"`). */
export class NullLedger implements Ledger {
  readonly keeps = false;
  record(_metadata: Record<string, unknown>, _digest?: Uint8Array): Promise<void> {
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  stats(): LedgerStats {
    return { recorded: 0, failed: 0 };
  }
}

/** Logs the digest hex of each record at info level, nothing else (`ledger.mode = "debug"`). */
export class DebugLedger implements Ledger {
  readonly keeps = true;
  readonly #logger: Logger;
  #recorded = 0;
  #failed = 0;
  #closed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  record(metadata: Record<string, unknown>, digest?: Uint8Array): Promise<void> {
    if (this.#closed) {
      this.#failed++;
      this.#logger.warn("ledger record after close dropped", {});
      return Promise.resolve();
    }
    try {
      const hex = toHex(recordDigest(metadata, digest));
      this.#logger.info("ledger record", { ledger: "debug", digest: hex });
      this.#recorded++;
    } catch (error) {
      this.#failed++;
      this.#logger.warn("ledger record dropped", { error: (error as Error).message });
    }
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  stats(): LedgerStats {
    return { recorded: this.#recorded, failed: this.#failed };
  }
}
