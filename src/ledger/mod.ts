/**
 * The audit ledger (upstream §8): a {@link Ledger} seam with three adapters
 * chosen by `ledger.mode` — `null` (discard), `debug` (log the digest) and
 * `file` (hash-chained JSON lines, checked by {@link verifyLedgerFile}).
 *
 * ```ts
 * const ledger = await createLedger({ mode: "file", target: "./var/ledger.jsonl", logger });
 * await ledger.record({ device, user, session }, blake3(utf8(sessionId)));
 * await ledger.close();
 * ```
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { DebugLedger, type Ledger, NullLedger } from "./ledger.ts";
import { FileLedger } from "./file.ts";

export { canonicalJson, LedgerMetadataError, rfc3339 } from "./canonical.ts";
export {
  DebugLedger,
  DIGEST_LENGTH,
  type Ledger,
  type LedgerStats,
  NullLedger,
  prepareRecord,
  recordDigest,
} from "./ledger.ts";
export { FileLedger, type FileLedgerOptions, LedgerFileError } from "./file.ts";
export {
  encodeLedgerLine,
  encodePreparedLine,
  GENESIS_PREV,
  lineHash,
  parseLedgerLine,
} from "./line.ts";
export { type LedgerVerification, MAX_LINE_BYTES, verifyLedgerFile } from "./verify.ts";

/** The ledger settings (`ledger.mode`, `ledger.target`). */
export interface LedgerSettings {
  mode: "null" | "debug" | "file";
  /** File path; required for `file`. */
  target?: string | null;
  logger: Logger;
  /** Clock for `recorded_at` (tests). */
  now?: () => Date;
}

/** The configured ledger is unusable (file mode without a target). */
export class LedgerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LedgerConfigError";
  }
}

/**
 * Builds the configured ledger. Start-up errors (no target, unopenable file,
 * damaged tail) reject: the server should refuse to start rather than run
 * without the audit trail it was asked to keep.
 */
export async function createLedger(settings: LedgerSettings): Promise<Ledger> {
  switch (settings.mode) {
    case "null":
      return new NullLedger();
    case "debug":
      return new DebugLedger(settings.logger);
    case "file":
      if (!settings.target) {
        throw new LedgerConfigError('ledger.target is required when ledger.mode = "file"');
      }
      return await FileLedger.open(settings.target, {
        logger: settings.logger,
        now: settings.now,
      });
    default:
      throw new LedgerConfigError(`unknown ledger.mode ${JSON.stringify(settings.mode)}`);
  }
}
