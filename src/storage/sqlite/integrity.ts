/**
 * Integrity checks of an SQLite file and its write-ahead log.
 *
 * Why the WAL is read by hand: when SQLite recovers a WAL after a crash it
 * keeps frames only up to the first one whose checksum fails and silently
 * drops the rest, so a damaged WAL loses committed transactions without any
 * error. {@link checkWal} reads the log *before* SQLite opens the database
 * and tells a damaged log (a frame of the current generation that fails its
 * checksum, or commits of the current generation after the point where
 * recovery would stop) from the normal leftovers (stale frames of an older
 * generation, an unfinished transaction after the last commit).
 *
 * Format: https://www.sqlite.org/fileformat2.html#walformat (32-byte header,
 * then frames of a 24-byte header and one page; cumulative checksums).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;

/** What {@link checkWal} found. */
export interface WalReport {
  /** The log file examined. */
  walPath: string;
  /** Frames of the current generation (matching salts) in the file. */
  frames: number;
  /** Frames SQLite will replay (up to the last valid commit). */
  validFrames: number;
  /** Commit frames of the current generation SQLite will drop. */
  lostCommits: number;
  /** Null when the log is sound; otherwise what is wrong, in one phrase. */
  damage: string | null;
}

/**
 * Reads `<dbPath>-wal` (if any) and checks its frames the way SQLite's
 * recovery would. Returns null when there is no log to check.
 */
export async function checkWal(dbPath: string): Promise<WalReport | null> {
  if (dbPath === ":memory:" || dbPath === "") return null;
  const walPath = `${dbPath}-wal`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(walPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return inspectWal(walPath, bytes);
}

/** {@link checkWal} on bytes already read (exported for tests). */
export function inspectWal(walPath: string, bytes: Uint8Array): WalReport | null {
  if (bytes.length < WAL_HEADER) return null; // empty or reset log: nothing to replay
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const report = (
    frames: number,
    validFrames: number,
    lostCommits: number,
    damage: string | null,
  ) => ({
    walPath,
    frames,
    validFrames,
    lostCommits,
    damage,
  });
  const magic = view.getUint32(0);
  const pageSize = view.getUint32(8);
  const frameSize = FRAME_HEADER + pageSize;
  const frameCount = Math.floor((bytes.length - WAL_HEADER) / frameSize);
  if (
    (magic !== MAGIC_LE && magic !== MAGIC_BE) || pageSize < 512 || pageSize > 65536 ||
    (pageSize & (pageSize - 1)) !== 0
  ) {
    return frameCount > 0 || bytes.some((b) => b !== 0)
      ? report(frameCount, 0, 0, "its header is not a WAL header; SQLite will ignore the whole log")
      : null;
  }
  const bigEndian = magic === MAGIC_BE;
  let [s0, s1] = checksum(view, 0, 24, bigEndian, 0, 0);
  if (s0 !== view.getUint32(24) || s1 !== view.getUint32(28)) {
    return frameCount > 0
      ? report(
        frameCount,
        0,
        0,
        `its header fails its checksum; SQLite will ignore all ${frameCount} frame(s)`,
      )
      : null;
  }
  const salt1 = view.getUint32(16);
  const salt2 = view.getUint32(20);
  let validFrames = 0;
  let firstBad = -1;
  let badIsChecksum = false;
  for (let i = 0; i < frameCount; i++) {
    const at = WAL_HEADER + i * frameSize;
    const current = view.getUint32(at + 8) === salt1 && view.getUint32(at + 12) === salt2;
    if (!current || view.getUint32(at) === 0) {
      firstBad = i;
      break;
    }
    [s0, s1] = checksum(view, at, 8, bigEndian, s0, s1);
    [s0, s1] = checksum(view, at + FRAME_HEADER, pageSize, bigEndian, s0, s1);
    if (s0 !== view.getUint32(at + 16) || s1 !== view.getUint32(at + 20)) {
      firstBad = i;
      badIsChecksum = true;
      break;
    }
    if (view.getUint32(at + 4) !== 0) validFrames = i + 1; // a commit frame
  }
  if (firstBad < 0) return report(frameCount, validFrames, 0, null);
  // Frames of the current generation past the stopping point: their commits are lost.
  let frames = firstBad;
  let lostCommits = 0;
  for (let i = firstBad; i < frameCount; i++) {
    const at = WAL_HEADER + i * frameSize;
    if (view.getUint32(at + 8) !== salt1 || view.getUint32(at + 12) !== salt2) continue;
    frames++;
    if (view.getUint32(at + 4) !== 0) lostCommits++;
  }
  if (!badIsChecksum && lostCommits === 0) return report(frames, validFrames, 0, null);
  return report(
    frames,
    validFrames,
    lostCommits,
    `frame ${firstBad + 1} of ${frames} fails its ${
      badIsChecksum ? "checksum" : "salt or page number"
    }; ` +
      `SQLite will drop it and every later frame (${lostCommits} later commit(s))`,
  );
}

/** SQLite's WAL checksum over `length` bytes (a multiple of 8) from `offset`. */
function checksum(
  view: DataView,
  offset: number,
  length: number,
  bigEndian: boolean,
  s0: number,
  s1: number,
): [number, number] {
  const littleEndian = !bigEndian;
  for (let i = offset; i < offset + length; i += 8) {
    s0 = (s0 + view.getUint32(i, littleEndian) + s1) >>> 0;
    s1 = (s1 + view.getUint32(i + 4, littleEndian) + s0) >>> 0;
  }
  return [s0, s1];
}

/** `"quick"`: `PRAGMA quick_check` (no index cross-checks); `"full"`: `PRAGMA integrity_check`. */
export type IntegrityLevel = "quick" | "full";

/**
 * Runs SQLite's own check on an open database; returns its complaints (at
 * most `limit`), an empty list when the file is sound.
 */
export function checkDatabase(db: DatabaseSync, level: IntegrityLevel, limit = 5): string[] {
  const pragma = level === "full" ? "integrity_check" : "quick_check";
  const rows = db.prepare(`PRAGMA ${pragma}(${Math.max(1, Math.floor(limit))})`).all();
  const lines = rows.map((row) => String(Object.values(row)[0]));
  return lines.length === 1 && lines[0] === "ok" ? [] : lines;
}

/** The database file is damaged (SQLite's integrity check failed). */
export class DatabaseCorruptError extends Error {
  constructor(readonly path: string, readonly problems: readonly string[]) {
    super(
      `database ${path} is damaged (${problems[0] ?? "corrupt"}${
        problems.length > 1 ? `, +${problems.length - 1} more` : ""
      }); stop the server, keep a copy of ${path}*, then restore a backup or salvage with ` +
        `\`sqlite3 ${path} .recover\` (docs/OPERATIONS.md "Storage integrity")`,
    );
    this.name = "DatabaseCorruptError";
  }
}

/** One line for the log/diagnose about a damaged WAL, naming the copy kept. */
export function describeWalDamage(dbPath: string, wal: WalReport, keptAs: string | null): string {
  const kept = keptAs === null ? "" : `; the damaged log was copied to ${keptAs}`;
  return `database ${dbPath}: write-ahead log ${wal.walPath} is damaged: ${wal.damage}${kept}; ` +
    `commits after the damage are lost: restore them from a backup if you need them ` +
    `(docs/OPERATIONS.md "Storage integrity")`;
}
