/**
 * How much repair to send. Spreading an object's K(1+o) packets round-robin
 * over n paths puts about 1/n of them on each; losing any one path leaves
 * K(1+o)(n−1)/n, which is at least K when o ≥ 1/(n−1). A margin of 0.05 on
 * top covers the rounding of small objects and RaptorQ's decode probability
 * at exactly K symbols (99.6 %): n = 3 → 0.55, n = 4 → 0.38.
 *
 * @module
 */
import { FecOptionsError } from "./errors.ts";

/** Largest repair overhead accepted (8 repair symbols per source symbol). */
export const MAX_REPAIR_OVERHEAD = 8;

/** Safety margin over the bare 1/(n−1). */
export const OVERHEAD_MARGIN = 0.05;

/**
 * The repair overhead that survives the loss of any one of `paths` paths:
 * 0 for one path (nothing to survive), else 1/(n−1) + 0.05.
 */
export function repairOverheadForPaths(paths: number): number {
  if (!Number.isInteger(paths) || paths < 1) {
    throw new FecOptionsError(`path count ${paths} is not a positive integer`);
  }
  return paths === 1 ? 0 : 1 / (paths - 1) + OVERHEAD_MARGIN;
}

/**
 * Repair symbols for K source symbols at overhead `o` (upstream's rule):
 * none when o ≤ 0, else max(1, ⌈K·o⌉).
 */
export function repairSymbolCount(sourceSymbols: number, overhead: number): number {
  if (!Number.isFinite(overhead) || overhead < 0 || overhead > MAX_REPAIR_OVERHEAD) {
    throw new FecOptionsError(`repair overhead ${overhead} is outside 0..${MAX_REPAIR_OVERHEAD}`);
  }
  if (overhead === 0 || sourceSymbols === 0) return 0;
  // The epsilon keeps 0.55 × 20 at 11 (floating point says 11.000000000000002).
  return Math.max(1, Math.ceil(sourceSymbols * overhead - 1e-9));
}
