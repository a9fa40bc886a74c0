/**
 * Gives the garbage of a handshake burst back once the server is quiet.
 * Every handshake leaves tens of KiB of garbage (keys, Noise state, store
 * rows, Deno's promises and timers), part of it promoted to the old
 * generation, and V8 collects it only when the old generation next fills:
 * on a server that then goes idle with its new connections, that garbage
 * and the pages it grew are held for good — 5 to 10 KiB of RSS per
 * connection after 10,000 handshakes (docs/PERFORMANCE.md, idle memory),
 * more than the sessions themselves. V8's own memory reducer does not run
 * in Deno's event loop in time to help.
 *
 * So: every half second the server's totals are compared; after at least
 * {@link IDLE_RECLAIM_MIN_HANDSHAKES} handshakes since the last reclaim,
 * the first half second with no handshake and no frame in or out runs one full
 * collection. It never runs under traffic (a pause there would be a
 * latency spike); it costs one pause on a quiet server, growing with the
 * heap (744 ms for a 189 MB heap with 10,200 sessions, measured once on a
 * loaded 2-core machine).
 *
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";
import type { Logger } from "../log/mod.ts";

/** Handshakes since the last reclaim that make the next quiet interval reclaim. */
export const IDLE_RECLAIM_MIN_HANDSHAKES = 256;
/**
 * How often the totals are compared, ms (a quiet interval is one of these):
 * short, so the garbage of a burst is given back soon after it ends.
 */
export const IDLE_RECLAIM_INTERVAL_MS = 500;

/** The totals the reclaim watches (the server's live counters). */
export interface ActivityTotals {
  readonly handshakesOk: number;
  readonly handshakesFailed: number;
  readonly framesIn: number;
  readonly framesOut: number;
}

/**
 * Decides when to collect, from successive readings of the totals (one per
 * interval); collects through `collect`.
 */
export class IdleReclaim {
  readonly #totals: ActivityTotals;
  readonly #collect: () => void;
  #handshakesAtReclaim = 0;
  #lastHandshakes = 0;
  #lastFrames = 0;
  /** Full collections run so far. */
  reclaims = 0;

  constructor(totals: ActivityTotals, collect: () => void) {
    this.#totals = totals;
    this.#collect = collect;
    this.#lastHandshakes = this.#handshakesAtReclaim = handshakesOf(totals);
    this.#lastFrames = framesOf(totals);
  }

  /** One interval went by: collects if it was quiet after enough handshakes. True when it did. */
  tick(): boolean {
    const handshakes = handshakesOf(this.#totals);
    const frames = framesOf(this.#totals);
    const quiet = handshakes === this.#lastHandshakes && frames === this.#lastFrames;
    this.#lastHandshakes = handshakes;
    this.#lastFrames = frames;
    if (!quiet || handshakes - this.#handshakesAtReclaim < IDLE_RECLAIM_MIN_HANDSHAKES) {
      return false;
    }
    this.#handshakesAtReclaim = handshakes;
    this.#collect();
    this.reclaims++;
    return true;
  }
}

function handshakesOf(t: ActivityTotals): number {
  return t.handshakesOk + t.handshakesFailed;
}

function framesOf(t: ActivityTotals): number {
  return t.framesIn + t.framesOut;
}

/** The options of V8's `gc` function (its GC extension). */
type GcFunction = (options?: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

/**
 * V8's memory-reducing full collection (what a low-memory notification
 * runs: collections until nothing more is freed, the young generation
 * shrunk, free pages given back), made callable without a command-line
 * flag: the flag only adds the `gc` function to contexts made after it is
 * set. Null when the runtime does not allow it.
 */
export function memoryReducingCollection(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    if (typeof gc !== "function") return null;
    return () => (gc as GcFunction)({ type: "major", execution: "sync", flavor: "last-resort" });
  } catch {
    return null;
  }
}

/**
 * Starts the interval (unref'd: it never keeps the process alive); returns
 * its stop. Each reclaim is logged with its pause and the heap it freed.
 */
export function startIdleReclaim(totals: ActivityTotals, log: Logger): { stop(): void } {
  const collect = memoryReducingCollection();
  if (collect === null) return { stop() {} };
  const reclaim = new IdleReclaim(totals, () => {
    const before = Deno.memoryUsage();
    const started = performance.now();
    collect();
    const after = Deno.memoryUsage();
    log.info("idle reclaim: full collection after a handshake burst", {
      pause_ms: Math.round(performance.now() - started),
      heap_total_mb_before: Math.round(before.heapTotal / 1048576),
      heap_total_mb_after: Math.round(after.heapTotal / 1048576),
      rss_mb_before: Math.round(before.rss / 1048576),
      rss_mb_after: Math.round(after.rss / 1048576),
    });
  });
  const timer = setInterval(() => reclaim.tick(), IDLE_RECLAIM_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}
