/**
 * The paths of a multipath endpoint by id, which of them take new units (their backlog under
 * the bound), and the turn that spreads units over them.
 *
 * @module
 */
import type { UnitDecoder } from "../proto/mod.ts";
import type { PathLink } from "./endpoint_options.ts";
import { Path } from "./path.ts";

/** How long a listing of the live paths (and their backlogs) is reused, ms. */
const LIVE_PATHS_MS = 5;

/** The paths of one endpoint. */
export class PathSet {
  readonly #now: () => number;
  readonly #backlogLimit: number;
  readonly #paths = new Map<number, Path>();
  #nextId = 0;
  #rr = 0;
  /** The live paths as listed at `#liveAt` (null: the paths changed since). */
  #live: Path[] | null = null;
  #liveAt = 0;

  /** `backlogLimit`: a path with more unread bytes than this gets no new units. */
  constructor(now: () => number, backlogLimit: number) {
    this.#now = now;
    this.#backlogLimit = backlogLimit;
  }

  /** How many paths there are. */
  get size(): number {
    return this.#paths.size;
  }

  /** Path `id`, if it is still there. */
  get(id: number): Path | undefined {
    return this.#paths.get(id);
  }

  /** True when path `id` is still there. */
  has(id: number): boolean {
    return this.#paths.has(id);
  }

  /** Every path, in the order they were added. */
  values(): IterableIterator<Path> {
    return this.#paths.values();
  }

  /** Adds a path with the next id. */
  add(link: PathLink, mode: string, units: UnitDecoder): Path {
    const path = new Path(this.#nextId++, mode, link, units);
    this.#live = null;
    this.#paths.set(path.id, path);
    return path;
  }

  /** Removes path `id`; returns it, or undefined when it was gone already. */
  delete(id: number): Path | undefined {
    const path = this.#paths.get(id);
    if (!path) return undefined;
    this.#paths.delete(id);
    this.#live = null;
    return path;
  }

  /** Forgets every path (the endpoint closed). */
  clear(): void {
    this.#paths.clear();
  }

  /** The paths that take new units (every path stalled: the least backed-up one). */
  live(): Path[] {
    // At most once per LIVE_PATHS_MS (and when the paths change): listing the paths and reading
    // each backlog (a WebSocket's is an op call) per unit cost ~2% of a busy server, and a
    // backlog a few ms old is good enough for a 1 MiB threshold.
    const now = this.#now();
    if (this.#live !== null && now - this.#liveAt < LIVE_PATHS_MS) return this.#live;
    this.#liveAt = now;
    return this.#live = this.#computeLive();
  }

  #computeLive(): Path[] {
    const all = [...this.#paths.values()];
    const open = all.filter((p) => p.link.backlogBytes < this.#backlogLimit);
    // Every path stalled: still use the least backed-up one rather than none.
    if (open.length === 0 && all.length > 0) {
      return [all.reduce((a, b) => (a.link.backlogBytes <= b.link.backlogBytes ? a : b))];
    }
    return open;
  }

  /** The next of `paths` (not empty) in turn. */
  next(paths: Path[]): Path {
    return paths[this.#rr++ % paths.length];
  }

  /**
   * Two live paths, the next pair in turn (fewer when fewer are up; none:
   * retransmission covers it once a path is back): a unit on both survives
   * the loss of either, as RaptorQ's overhead does.
   */
  two(): Path[] {
    const paths = this.live();
    if (paths.length <= 2) return paths;
    const first = this.#rr++ % paths.length;
    return [paths[first], paths[(first + 1) % paths.length]];
  }
}
