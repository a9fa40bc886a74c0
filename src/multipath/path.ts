/**
 * One path of a multipath endpoint: its link, its unit decoder, its counters, and the units
 * queued on it in this event-loop turn, joined into one write (fewer messages and syscalls).
 *
 * @module
 */
import type { UnitDecoder } from "../proto/mod.ts";
import type { PathLink, PathStatus } from "./endpoint_options.ts";

/** Largest joined write on a path. */
const MAX_WRITE = 256 * 1024;

/** One path as the endpoint sees it. */
export class Path {
  readonly id: number;
  readonly mode: string;
  readonly link: PathLink;
  readonly units: UnitDecoder;
  unitsOut = 0;
  unitsIn = 0;
  /** Units written in this turn, joined into one write at its end. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(id: number, mode: string, link: PathLink, units: UnitDecoder) {
    this.id = id;
    this.mode = mode;
    this.link = link;
    this.units = units;
  }

  /** True when units wait for this turn's write. */
  get hasPending(): boolean {
    return this.#pending.length > 0;
  }

  /** Queues `unit`; what was queued before goes out first when both would pass MAX_WRITE. */
  queue(unit: Uint8Array): void {
    this.unitsOut++;
    if (this.#pendingBytes + unit.length > MAX_WRITE) this.write();
    this.#pending.push(unit);
    this.#pendingBytes += unit.length;
  }

  /** Queues `unit` (an ACK riding on this turn's data) without the size check: the write is due. */
  ride(unit: Uint8Array): void {
    this.unitsOut++;
    this.#pending.push(unit);
    this.#pendingBytes += unit.length;
  }

  /** Writes what is queued, joined into one buffer. */
  write(): void {
    const units = this.#pending;
    if (units.length === 0) return;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    let joined = units[0];
    if (units.length > 1) {
      joined = new Uint8Array(bytes);
      let at = 0;
      for (const u of units) {
        joined.set(u, at);
        at += u.length;
      }
    }
    try {
      this.link.send(joined);
    } catch { /* closed under us: its close handler removes it */ }
  }

  /** What the path did so far. */
  status(): PathStatus {
    return {
      id: this.id,
      mode: this.mode,
      unitsOut: this.unitsOut,
      unitsIn: this.unitsIn,
      backlogBytes: this.link.backlogBytes,
    };
  }
}
