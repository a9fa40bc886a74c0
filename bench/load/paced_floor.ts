/**
 * The p99 floor of each accept mode: the TLS relay with acks paced at that
 * mode's own 1:1 50% rate (`relayTls.ackedPaced`), so the relay does per
 * second the work the server did. Guarded and direct reach different maxima,
 * so one floor per distinct rate; the verdict of a mode finds its floor by
 * rate. Reports of older runs hold one floor (`ackedHalf`, the first mode's
 * rate) and are read as such.
 *
 * @module
 */
import type { LoadReport, TrafficSummary } from "./report_types.ts";

/** The TLS relay with acks paced at the 50% rate of one or more accept modes. */
export interface PacedFloor {
  /** The accept mode(s) whose 1:1 50% rate this is ("guarded", "direct"; both when equal). */
  accept: string[];
  phase: TrafficSummary;
}

/** The rates are the same number handed on; a relative tolerance only absorbs rounding. */
const sameRate = (a: number | null, b: number) => a !== null && Math.abs(a - b) <= 1e-6 * b;

/** Every paced floor of the report, older reports' single `ackedHalf` included. */
export function pacedFloors(relayTls: LoadReport["relayTls"] | undefined): PacedFloor[] {
  if (!relayTls) return [];
  if (relayTls.ackedPaced) return relayTls.ackedPaced;
  return relayTls.ackedHalf ? [{ accept: [], phase: relayTls.ackedHalf }] : [];
}

/** The floor paced at `rate` (a mode's 50% phase's `targetPerSecond`); null if none was. */
export function pacedFloorAt(
  relayTls: LoadReport["relayTls"] | undefined,
  rate: number | null | undefined,
): TrafficSummary | null {
  if (rate == null) return null;
  return pacedFloors(relayTls).find((f) => sameRate(f.phase.targetPerSecond, rate))?.phase ?? null;
}

/** The Delivery table's name of a paced floor ("…, 50% of guarded"). */
export function pacedFloorLabel(floor: PacedFloor): string {
  return `raw TLS relay with acks, pairs, 50%${
    floor.accept.length > 0 ? ` of ${floor.accept.join(" and ")}` : ""
  }`;
}

/**
 * Adds the floor at `rate` for `accept` to `floors`: when a floor at that
 * rate exists it serves this mode too; else `measure(rate)` runs one.
 */
export async function addPacedFloor(
  floors: PacedFloor[],
  accept: string,
  rate: number,
  measure: (rate: number) => Promise<TrafficSummary>,
): Promise<void> {
  const same = floors.find((f) => sameRate(f.phase.targetPerSecond, rate));
  if (same) {
    if (!same.accept.includes(accept)) same.accept.push(accept);
    return;
  }
  floors.push({ accept: [accept], phase: await measure(rate) });
}
