/**
 * The FEC policy of a multipath session (PROTOCOL.md "Multipath",
 * scheduling): what each transport message costs in redundancy, per frame
 * class, given how many paths are up.
 *
 * @module
 */

/** How a class of frames is protected. */
export type FecMode = "auto" | "off" | "duplicate" | "raptorq";

/** A policy: the mode and, for `raptorq`, the smallest repair overhead. */
export interface FecPolicy {
  mode: FecMode;
  /** Repair symbols per source symbol (raptorq); raised to what the path count needs. */
  overhead?: number;
}

/** How one unit goes out (`minBytes`: a smaller batch goes as two copies instead). */
export type Schedule =
  | { kind: "single" }
  | { kind: "duplicate" }
  | { kind: "raptorq"; overhead: number; minBytes: number };

/** Smallest batch worth RaptorQ under `raptorq` (its fixed cost per object). */
export const MIN_FEC_BYTES = 2048;
/**
 * Smallest batch worth RaptorQ under `auto`. Below it two copies (on two
 * paths, in turn) survive the loss of a path as the repair symbols do, for
 * less CPU at both ends. A chat turn (8 messages, 2.2 KiB: 25 packets of
 * 144-byte symbols) saved ~7% of the copies' bytes and cost ~4x the CPU per
 * message of copies (bench/inprocess_multipath.ts: the encode, the Worker
 * hop, 25 packets to frame, write, parse and join against 2 writes); from 32
 * KiB (1152-byte symbols) RaptorQ saves ~20% of the bytes, ≥ 6 KiB an
 * object, where bandwidth may matter more than CPU.
 */
export const AUTO_MIN_FEC_BYTES = 32 * 1024;

/** The policy every class gets unless configured otherwise. */
export const DEFAULT_POLICY: FecPolicy = { mode: "auto" };

/**
 * Repair overhead that survives the loss of any one of `paths` paths when
 * packets are spread round-robin: 1/(n−1) + 0.05 (n=3 → 0.55, n=4 → 0.38).
 */
export function survivingOverhead(paths: number): number {
  return paths < 2 ? 0 : 1 / (paths - 1) + 0.05;
}

/**
 * The schedule for `paths` live paths: one path (round-robin) with fewer
 * than two or `off`; every path with `duplicate` or `auto` on two; RaptorQ
 * from three paths up when a codec is available (else duplicate), for
 * batches of at least `minBytes`.
 */
export function scheduleFor(policy: FecPolicy, paths: number, haveFec: boolean): Schedule {
  if (paths < 2 || policy.mode === "off") return { kind: "single" };
  if (policy.mode === "duplicate") return { kind: "duplicate" };
  const raptorq = policy.mode === "raptorq" || (policy.mode === "auto" && paths >= 3);
  if (!raptorq || !haveFec) return { kind: "duplicate" };
  return {
    kind: "raptorq",
    overhead: Math.max(policy.overhead ?? 0, survivingOverhead(paths)),
    minBytes: policy.mode === "auto" ? AUTO_MIN_FEC_BYTES : MIN_FEC_BYTES,
  };
}

/** Parses `off`, `duplicate`, `auto` or `raptorq[:overhead]`; throws naming what is wrong. */
export function parseFecPolicy(text: string): FecPolicy {
  const [mode, overhead] = text.split(":", 2);
  if (mode === "off" || mode === "duplicate" || mode === "auto") {
    if (overhead !== undefined) throw new Error(`fec policy "${mode}" takes no overhead`);
    return { mode };
  }
  if (mode === "raptorq") {
    if (overhead === undefined) return { mode };
    const value = Number(overhead);
    if (!Number.isFinite(value) || value < 0 || value > 4) {
      throw new Error(`fec overhead must be a number in 0..4, got "${overhead}"`);
    }
    return { mode, overhead: value };
  }
  throw new Error(`fec policy must be off, duplicate, auto or raptorq[:overhead], got "${text}"`);
}
