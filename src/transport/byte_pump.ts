/**
 * The byte pump of the loopback engine (./loopback_engine.ts): copies one
 * connection to another with callbacks (no `async` loop: a suspended async
 * function per direction was held by every idle connection) and buffers
 * sized for two opposite costs:
 *
 * - an idle connection holds one pending read per direction, and the read
 *   holds its buffer for as long as the peer is silent: so a read that may
 *   wait reads into a {@link SMALL_CHUNK} buffer — all an idle connection
 *   costs;
 * - a busy connection pays one read and one write (and the loopback server
 *   one more receive) for every time its buffer fills: a record larger than
 *   the small buffer (CommuCat's padded frames are ~290 B on the wire) would
 *   cross the pump in two halves, twice the system calls of a pump with a
 *   large buffer (bench/pump_floor.ts).
 *
 * So a full read means more is queued: the next reads use a large buffer
 * (doubling on every full read, up to {@link MAX_CHUNK}). A pump that filled
 * its small buffer becomes *busy* while fewer than {@link BUSY_PUMPS} pumps
 * of the process are: a busy pump keeps its large buffer (resized to fit)
 * while its reads bring more than the small buffer holds, so a stream of
 * such records crosses in one read and one write each, as through a
 * large-buffer pump; acks and pings between them do not end it, a run of
 * {@link QUIET_BURSTS} bursts that fit the small buffer (the stream going
 * quiet) does. Only busy pumps can go idle holding a large buffer, so what
 * idle connections hold beyond the small buffers is bounded for the process
 * ({@link BUSY_PUMPS} × {@link BUSY_CHUNK} at worst, 8 MiB), not per
 * connection. Large buffers are reused through a small pool instead of
 * allocated per burst.
 *
 * What an idle pump holds is kept small (docs/PERFORMANCE.md, idle memory):
 * its small buffer is a slot of a shared {@link SLAB_SLOTS}-slot slab
 * rather than an `ArrayBuffer` of its own (an `ArrayBuffer` object, V8's
 * backing-store records and a `calloc` per pump), and its reads and writes
 * settle into one bound function (not three closures and their context).
 *
 * @module
 */
import type { ByteConn } from "./listener.ts";

/** The buffer of a read that may wait (an idle connection's, per direction). */
export const SMALL_CHUNK = 256;
/** The first large buffer after a full read. */
export const MIN_CHUNK = 1024;
/** The largest buffer (more than a TLS record of 16 KiB). */
export const MAX_CHUNK = 64 * 1024;
/** Pumps of the process that may keep a large buffer while drained (busy pumps). */
export const BUSY_PUMPS = 512;
/** Bursts in a row that fit the small buffer before a busy pump goes back to it. */
export const QUIET_BURSTS = 8;
/** The largest buffer a busy pump keeps for a read that may wait. */
export const BUSY_CHUNK = 16 * 1024;
/** Free large buffers kept per size. */
const POOL_PER_SIZE = 16;
/** Small buffers per slab (16 KiB): few enough that a slab kept by one long-lived pump is cheap. */
export const SLAB_SLOTS = 64;

const pool = new Map<number, Uint8Array<ArrayBuffer>[]>();

function takeBuffer(size: number): Uint8Array<ArrayBuffer> {
  return pool.get(size)?.pop() ?? new Uint8Array(size);
}

function giveBuffer(buf: Uint8Array<ArrayBuffer>): void {
  let free = pool.get(buf.length);
  if (!free) pool.set(buf.length, free = []);
  if (free.length < POOL_PER_SIZE) free.push(buf);
}

/** The smallest power of two ≥ 2n, within the large buffers' bounds. */
function fitting(n: number): number {
  let size = MIN_CHUNK;
  while (size < 2 * n && size < MAX_CHUNK) size *= 2;
  return size;
}

/**
 * {@link SLAB_SLOTS} small buffers in one `ArrayBuffer`. A slot is given back
 * only when its pump has no read or write in flight (a pending read keeps
 * writing into its slot), so two pumps never share bytes. Reads into disjoint
 * views of one `ArrayBuffer` are safe: each op writes only its view's range.
 */
class Slab {
  readonly buffer = new ArrayBuffer(SMALL_CHUNK * SLAB_SLOTS);
  /** Free slot indices. */
  readonly free: number[] = [];

  constructor() {
    for (let i = SLAB_SLOTS - 1; i >= 0; i--) this.free.push(i);
  }
}

/** Slabs with a free slot, the one to take from last; a slab all free is dropped when another has room. */
const openSlabs: Slab[] = [];
/** Slots held by pumps now. */
let slotsInUse = 0;

function takeSlot(): { slab: Slab; view: Uint8Array<ArrayBuffer> } {
  let slab = openSlabs.at(-1);
  if (!slab) openSlabs.push(slab = new Slab());
  const i = slab.free.pop()!;
  if (slab.free.length === 0) openSlabs.pop();
  slotsInUse++;
  return { slab, view: new Uint8Array(slab.buffer, i * SMALL_CHUNK, SMALL_CHUNK) };
}

function giveSlot(slab: Slab, view: Uint8Array): void {
  slotsInUse--;
  slab.free.push(view.byteOffset / SMALL_CHUNK);
  if (slab.free.length === 1) openSlabs.push(slab);
  else if (slab.free.length === SLAB_SLOTS && openSlabs.length > 1) {
    // All free and another slab has room: let this one go (memory after a peak of connections).
    openSlabs.splice(openSlabs.indexOf(slab), 1);
  }
}

/** Small-buffer slots held by pumps now, and slabs with a free slot (tests). */
export function slabStats(): { inUse: number; open: number } {
  return { inUse: slotsInUse, open: openSlabs.length };
}

let busyPumps = 0;

/** Busy pumps now (tests). */
export function busyPumpCount(): number {
  return busyPumps;
}

/** Copies `from` to `to` until either ends or fails; then calls `end` (once per pump). */
export class Pump {
  readonly #from: ByteConn;
  readonly #to: ByteConn;
  readonly #end: () => void;
  /** The small buffer (a slot of {@link #slab}), null once given back. */
  #small: Uint8Array<ArrayBuffer> | null;
  readonly #slab: Slab;
  /** The buffer of the read or write in flight: {@link #small} or a large one. */
  #buf: Uint8Array<ArrayBuffer>;
  /** The large buffer's size for the next burst. */
  #size = MIN_CHUNK;
  #busy = false;
  /** Bytes read since the socket was last drained (a record split by a full buffer counts whole). */
  #burst = 0;
  /** Bursts in a row that the small buffer would have held, while busy. */
  #quiet = 0;
  #n = 0;
  /** Bytes of {@link #buf} written so far; -1 while a read is in flight. */
  #off = -1;
  /**
   * Every read and write settles here, fulfilled or rejected: one bound
   * function per pump instead of a closure per outcome (a rejection's reason
   * is never a number, a read's end is null: either ends the pump).
   */
  readonly #settled: (value: unknown) => void = this.#onSettled.bind(this);

  constructor(from: ByteConn, to: ByteConn, end: () => void) {
    this.#from = from;
    this.#to = to;
    this.#end = end;
    const { slab, view } = takeSlot();
    this.#slab = slab;
    this.#buf = this.#small = view;
  }

  start(): void {
    this.#read();
  }

  #read(): void {
    this.#off = -1;
    this.#from.read(this.#buf).then(this.#settled, this.#settled);
  }

  #onSettled(value: unknown): void {
    if (typeof value !== "number") return this.#stop();
    if (this.#off < 0) {
      this.#n = value;
      this.#burst += value;
      this.#off = 0;
    } else {
      this.#off += value;
    }
    if (this.#off < this.#n) {
      this.#to.write(this.#buf.subarray(this.#off, this.#n)).then(this.#settled, this.#settled);
      return;
    }
    this.#written();
  }

  /** Nothing is in flight (the read ended or failed, or a write failed): give the slot back, end. */
  #stop(): void {
    if (this.#busy) {
      this.#busy = false;
      busyPumps--;
    }
    const small = this.#small;
    if (small === null) return;
    this.#small = null;
    giveSlot(this.#slab, small);
    this.#end();
  }

  /** All of the last read was written: choose the next read's buffer and read. */
  #written(): void {
    const buf = this.#buf;
    const n = this.#n;
    if (n < buf.length) {
      // Drained: what came since the last drain decides the buffer of the read that may wait.
      const burst = this.#burst;
      this.#burst = 0;
      if (buf !== this.#small) this.#drained(buf, burst);
    } else {
      // More is queued: a large buffer, doubled when it was the one filled.
      if (buf === this.#small) this.#buf = takeBuffer(this.#size);
      else if (buf.length < MAX_CHUNK) {
        giveBuffer(buf);
        this.#buf = takeBuffer(this.#size = buf.length * 2);
      }
      if (!this.#busy && busyPumps < BUSY_PUMPS) {
        this.#busy = true;
        this.#quiet = 0;
        busyPumps++;
      }
    }
    this.#read();
  }

  /** The large buffer `buf` was drained after `burst` bytes: keep it (busy) or wait on the small one. */
  #drained(buf: Uint8Array<ArrayBuffer>, burst: number): void {
    if (this.#busy) {
      if (burst > SMALL_CHUNK) this.#quiet = 0;
      // Busy: keep a large buffer (acks and pings between the records do not end it; a run of
      // QUIET_BURSTS small bursts does), no larger than the bursts need.
      if (burst > SMALL_CHUNK || ++this.#quiet < QUIET_BURSTS) {
        const size = Math.min(BUSY_CHUNK, burst < buf.length / 4 ? fitting(burst) : buf.length);
        if (size !== buf.length) {
          giveBuffer(buf);
          this.#buf = takeBuffer(this.#size = size);
        }
        return;
      }
      this.#busy = false;
      busyPumps--;
    }
    // Not busy (a quiet stream, or no busy slot left): the next read may wait, on the small buffer.
    if (burst < buf.length / 4) this.#size = fitting(burst);
    giveBuffer(buf);
    this.#buf = this.#small!;
  }
}
