/**
 * One end of a multipath session: the paths it runs over, the sending side
 * (sequence numbers, the schedule of each unit, retransmission) and the
 * receiving side (per-path unit decoding, reassembly, ACKs). Client and
 * server use the same class; it sees only Noise ciphertexts, so a unit
 * damaged on any path (or rebuilt wrongly by FEC) is caught by the AEAD of
 * the session above it.
 *
 * A path that sends something malformed is refused (an Error frame on it,
 * then closed); the session goes on over the others.
 *
 * @module
 */
import { controlFrame, encodeFrame, FrameType, UnitDecoder } from "../proto/mod.ts";
import type { FecCodec, FecReceiver } from "./fec.ts";
import type { PathKeys, Side } from "./keys.ts";
import { DEFAULT_POLICY, type FecPolicy, type Schedule, scheduleFor } from "./policy.ts";
import { ReorderBuffer } from "./reorder.ts";
import { type Outstanding, RetransmitQueue } from "./retransmit.ts";
import { ackUnit, dataUnit, decodeBatch, decodePathUnit, fecUnit, PathKind } from "./wire.ts";
import { FecBatcher, MAX_BATCH_UNITS } from "./fec_batcher.ts";

/** One path as the endpoint sees it. */
export interface PathLink {
  /** Sends one unit (`varint(len) || body`). */
  send(unit: Uint8Array): void;
  /** Bytes handed over that the peer has not taken yet (0 where unknown). */
  readonly backlogBytes: number;
  /** Closes the path. */
  close(): void;
}

/** What a path did so far (status lines, metrics). */
export interface PathStatus {
  id: number;
  mode: string;
  unitsOut: number;
  unitsIn: number;
  backlogBytes: number;
}

/** Why a path left. */
export type PathEnd = "closed" | "refused";

/** Settings and callbacks of an endpoint. */
export interface EndpointOptions {
  side: Side;
  keys: PathKeys;
  /** The next transport message, in order, exactly once. */
  deliver(ciphertext: Uint8Array): void;
  /** Per frame class; `default` for everything unnamed. */
  policy?: Record<string, FecPolicy>;
  /** RaptorQ; without it, `raptorq` falls back to duplicate. */
  fec?: FecCodec;
  /** Smallest / largest retransmission timeout, ms (default 150 / 2000). */
  minRtoMs?: number;
  maxRtoMs?: number;
  /** Units accepted ahead of the next expected one (default 16384). */
  receiveWindow?: number;
  /** Bytes held for reordering (default 8 MiB). */
  maxReorderBytes?: number;
  /** A path with more unread bytes than this gets no new units (default 1 MiB). */
  pathBacklogBytes?: number;
  /**
   * Batches smaller than this go out as two copies on two paths (in turn)
   * instead of RaptorQ (default: the schedule's, policy.ts: 2 KiB under
   * `raptorq`, 32 KiB under `auto`): a small object costs the codec's fixed
   * price per object for a few bytes saved.
   */
  minFecBytes?: number;
  /**
   * Delay before an ACK goes out, ms (coalesces a burst; default 50, longer
   * than the SDK's 20 ms delivery-ack delay, so under two-way traffic the
   * ACK rides on the answer instead of costing a write of its own). An ACK
   * waiting for it rides on data this end writes meanwhile (at most one per
   * half delay).
   */
  ackDelayMs?: number;
  /** A path ended (closed, or refused for `detail`). */
  onPathEnd?(id: number, end: PathEnd, detail: string): void;
  /** The peer sent END and everything before it arrived: the session is over. */
  onPeerEnd?(): void;
  /** The peer broke the protocol with valid keys: the session must end. */
  onFatal(detail: string): void;
  now?: () => number;
}

interface Path {
  readonly id: number;
  readonly mode: string;
  readonly link: PathLink;
  readonly units: UnitDecoder;
  unitsOut: number;
  unitsIn: number;
  /** Units written in this turn, joined into one write at its end. */
  pending: Uint8Array[];
  pendingBytes: number;
}

/** Largest joined write on a path. */
const MAX_WRITE = 256 * 1024;

/** How long a listing of the live paths (and their backlogs) is reused, ms. */
const LIVE_PATHS_MS = 5;

/** Units resent per retransmission timeout (oldest first). */
const RTO_BURST = 64;

/** A multipath session end. */
export class MultipathEndpoint {
  readonly #o: EndpointOptions;
  readonly #now: () => number;
  readonly #paths = new Map<number, Path>();
  readonly #out: RetransmitQueue;
  readonly #in: ReorderBuffer;
  readonly #fecIn: FecReceiver | null;
  readonly #pathBacklog: number;
  #nextPathId = 0;
  #rr = 0;
  #ackRr = 0;
  #writeQueued = false;
  /** The live paths as listed at `#liveAt` (null: the paths changed since). */
  #live: Path[] | null = null;
  #liveAt = 0;
  #closed = false;
  #rtoTimer: ReturnType<typeof setTimeout> | undefined;
  #rtoAt = 0;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #ackDue = false;
  readonly #ackDelayMs: number;
  /** When the last ACK went out (ms, `now`), and what it covered. */
  #lastAckAt = -Infinity;
  #lastAckCumulative = 0;
  readonly #batcher: FecBatcher | null;
  /** The END we sent (resent on every new path), or null. */
  #endUnit: Uint8Array | null = null;
  /** The peer's END: its last unit; null until it comes. */
  #peerLast: number | null = null;
  /** Units rebuilt from FEC objects (status, tests). */
  fecRecovered = 0;

  constructor(options: EndpointOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#pathBacklog = options.pathBacklogBytes ?? 1024 * 1024;
    this.#ackDelayMs = options.ackDelayMs ?? 50;
    this.#batcher = options.fec
      ? new FecBatcher(options.fec, options.minFecBytes ?? null, {
        // Two copies on two different paths, in turn: like RaptorQ at 1/(n−1), the loss of
        // any one path loses nothing, at a fraction of the codec's cost for a small batch.
        copies: (units) => {
          this.#sentNow(units);
          this.#resend(units, this.#twoPaths());
        },
        packets: (packets, units) => {
          // The units' timeout starts now, not when they were queued for a (maybe cold) encoder.
          this.#sentNow(units);
          const paths = this.#livePaths();
          if (paths.length > 0) {
            for (const p of packets) this.#sendOn(paths[this.#rr++ % paths.length], fecUnit(p));
          } // else retransmission covers it once a path is back
        },
        failed: (units) => {
          this.#sentNow(units);
          this.#resend(units, this.#livePaths());
        },
      })
      : null;
    this.#out = new RetransmitQueue({
      minRtoMs: options.minRtoMs ?? 150,
      maxRtoMs: options.maxRtoMs ?? 2000,
    });
    this.#in = new ReorderBuffer({
      window: options.receiveWindow ?? 16_384,
      maxBytes: options.maxReorderBytes ?? 8 * 1024 * 1024,
    }, (ciphertext) => {
      if (!this.#closed) options.deliver(ciphertext);
    });
    this.#fecIn = options.fec?.receiver() ?? null;
  }

  /** Live paths. */
  get pathCount(): number {
    return this.#paths.size;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes sent and not acknowledged (the session's outbound bound counts these). */
  get unackedBytes(): number {
    return this.#out.bytes;
  }

  /** Counters for status and tests. */
  get stats() {
    return {
      sent: this.#out.last,
      acked: this.#out.acked,
      delivered: this.#in.delivered,
      duplicates: this.#in.duplicates,
      dropped: this.#in.dropped,
      retransmitted: this.#out.retransmitted,
      fecRecovered: this.fecRecovered,
      rtoMs: this.#out.rtoMs,
    };
  }

  /** Per-path status. */
  paths(): PathStatus[] {
    return [...this.#paths.values()].map((p) => ({
      id: p.id,
      mode: p.mode,
      unitsOut: p.unitsOut,
      unitsIn: p.unitsIn,
      backlogBytes: p.link.backlogBytes,
    }));
  }

  /** Adds a path; what was not acknowledged yet is sent on it at once. Returns its id. */
  addPath(link: PathLink, mode: string, units = new UnitDecoder()): number {
    if (this.#closed) {
      link.close();
      return -1;
    }
    const id = this.#nextPathId++;
    this.#live = null;
    this.#paths.set(id, {
      id,
      mode,
      link,
      units,
      unitsOut: 0,
      unitsIn: 0,
      pending: [],
      pendingBytes: 0,
    });
    // The new path may be the only one left: nothing outstanding waits for a timeout.
    this.#resend(this.#out.takeDue(this.#now(), true), [this.#paths.get(id)!]);
    if (this.#endUnit) this.#sendOn(this.#paths.get(id)!, this.#endUnit);
    this.#ackDue = this.#in.delivered > 0;
    this.#scheduleAck();
    this.#armRto();
    return id;
  }

  /** The path's link closed: forget it and resend what it may have lost. */
  removePath(id: number, detail = "closed"): void {
    const path = this.#paths.get(id);
    if (!path) return;
    this.#paths.delete(id);
    this.#live = null;
    this.#write(path);
    path.link.close();
    this.#o.onPathEnd?.(id, "closed", detail);
    if (this.#closed) return;
    this.#resend(this.#out.takeDue(this.#now(), true), this.#livePaths());
    this.#armRto();
  }

  /** Sends the next transport message (`frameClass` picks its policy). */
  send(ciphertext: Uint8Array, frameClass = "default"): void {
    if (this.#closed) return;
    const unit = this.#out.next(ciphertext, this.#now());
    const paths = this.#livePaths();
    const schedule = this.#schedule(frameClass, paths.length);
    if (schedule.kind === "raptorq") {
      unit.held = true; // no timeout while it waits for the encoder
      this.#batcher!.add(unit, schedule.overhead, schedule.minBytes);
    } else {
      this.#batcher?.flush();
      if (schedule.kind === "duplicate") this.#resend([unit], paths);
      else if (paths.length > 0) {
        this.#sendOn(paths[this.#rr++ % paths.length], dataUnit(unit.seq, ciphertext));
      }
    }
    this.#armRto();
  }

  /**
   * Tells the peer nothing follows what was sent so far (on every path, and
   * on paths added later); the peer ends the session once it has it all.
   */
  end(): void {
    if (this.#closed || this.#endUnit) return;
    this.#batcher?.flush();
    const last = this.#out.last;
    this.#endUnit = ackUnit(last, this.#o.keys.endMac(this.#o.side, last), PathKind.End);
    for (const path of this.#paths.values()) this.#sendOn(path, this.#endUnit);
  }

  /** Bytes that arrived on path `id`. */
  receive(id: number, chunk: Uint8Array): void {
    const path = this.#paths.get(id);
    if (!path || this.#closed) return;
    let bodies: Uint8Array[];
    try {
      bodies = path.units.push(chunk);
    } catch (error) {
      this.refuse(id, `bad unit framing: ${(error as Error).message}`);
      return;
    }
    this.receiveBodies(id, bodies);
  }

  /** Unit bodies (already split off the byte stream) that arrived on path `id`. */
  receiveBodies(id: number, bodies: readonly Uint8Array[]): void {
    const path = this.#paths.get(id);
    if (!path) return;
    for (const body of bodies) {
      if (this.#closed || !this.#paths.has(id)) return;
      path.unitsIn++;
      this.#unit(path, body);
    }
    this.#scheduleAck();
  }

  /** Refuses path `id`: an Error frame on it, then it is closed. */
  refuse(id: number, detail: string): void {
    const path = this.#paths.get(id);
    if (!path) return;
    this.#paths.delete(id);
    this.#live = null;
    try {
      path.link.send(encodeFrame(controlFrame(FrameType.Error, 0, 1, { error: "path", detail })));
    } catch { /* the link is gone already */ }
    path.link.close();
    this.#o.onPathEnd?.(id, "refused", detail);
    if (!this.#closed) {
      this.#resend(this.#out.takeDue(this.#now(), true), this.#livePaths());
      this.#armRto();
    }
  }

  /** Ends the endpoint: timers stop, every path closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#rtoTimer);
    clearTimeout(this.#ackTimer);
    this.#out.clear();
    this.#in.clear();
    this.#fecIn?.close();
    this.#batcher?.close();
    for (const path of this.#paths.values()) {
      this.#write(path);
      path.link.close();
    }
    this.#paths.clear();
  }

  // ---- receiving ----

  #unit(path: Path, body: Uint8Array): void {
    let unit;
    try {
      unit = decodePathUnit(body);
    } catch (error) {
      this.refuse(path.id, (error as Error).message);
      return;
    }
    switch (unit.kind) {
      case "data":
        this.#accept(unit.seq, unit.ciphertext);
        return;
      case "ack": {
        const peer: Side = this.#o.side === "server" ? "client" : "server";
        if (!this.#o.keys.verifyAck(peer, unit.cumulative, unit.mac)) {
          this.refuse(path.id, "ack: bad mac");
          return;
        }
        if (!this.#out.ack(unit.cumulative, this.#now())) {
          this.#o.onFatal(`ack of unit ${unit.cumulative}, only ${this.#out.last} sent`);
          return;
        }
        this.#armRto();
        return;
      }
      case "fec":
        this.#fec(path.id, unit.packet);
        return;
      case "end": {
        const peer: Side = this.#o.side === "server" ? "client" : "server";
        if (!this.#o.keys.verifyEnd(peer, unit.last, unit.mac)) {
          this.refuse(path.id, "end: bad mac");
          return;
        }
        this.#peerLast ??= unit.last;
        this.#checkPeerEnd();
        return;
      }
      default:
        this.refuse(path.id, `unexpected ${unit.kind} unit on an attached path`);
    }
  }

  #accept(seq: number, ciphertext: Uint8Array): void {
    const taken = this.#in.accept(seq, ciphertext);
    if (taken === "delivered") this.#checkPeerEnd();
    // Duplicates too (the sender resent because an ACK was lost), except the planned second
    // copy of a unit an ACK covered just now: a resend comes at least the smallest timeout
    // (150 ms) after the first copy, i.e. well after twice the ACK delay.
    if (
      taken !== "duplicate" || seq > this.#lastAckCumulative ||
      this.#now() - this.#lastAckAt >= 2 * this.#ackDelayMs
    ) this.#ackDue = true;
  }

  #checkPeerEnd(): void {
    if (this.#peerLast === null || this.#in.delivered < this.#peerLast || this.#closed) return;
    this.#peerLast = Number.MAX_SAFE_INTEGER; // once
    this.#sendAck();
    this.#o.onPeerEnd?.();
  }

  #fec(pathId: number, packet: Uint8Array): void {
    if (this.#fecIn === null) {
      this.refuse(pathId, "fec: this end has no FEC codec");
      return;
    }
    let result;
    try {
      result = this.#fecIn.push(packet);
    } catch (error) {
      this.refuse(pathId, `fec: ${(error as Error).message}`);
      return;
    }
    const take = (object: Uint8Array | null) => {
      if (object === null || this.#closed) return;
      let batch;
      try {
        batch = decodeBatch(object, MAX_BATCH_UNITS);
      } catch (error) {
        // Decoded by FEC from packets of several paths: no single path to blame.
        this.#o.onFatal(`fec object: ${(error as Error).message}`);
        return;
      }
      batch.ciphertexts.forEach((c, i) => {
        const taken = this.#in.accept(batch.firstSeq + i, c);
        if (taken === "delivered" || taken === "held") this.fecRecovered++;
      });
      this.#checkPeerEnd();
      this.#ackDue = true;
      this.#scheduleAck();
    };
    if (result instanceof Promise) {
      result.then(take, (error) => this.refuse(pathId, `fec: ${(error as Error).message}`));
    } else take(result);
  }

  #scheduleAck(): void {
    if (!this.#ackDue || this.#ackTimer !== undefined || this.#closed) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      this.#sendAck();
    }, this.#ackDelayMs);
  }

  /** Sends the ACK now: on `riding` (a path this turn writes anyway), else on the next path. */
  #sendAck(riding?: Path): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#closed || !this.#ackDue) return;
    this.#ackDue = false;
    this.#lastAckAt = this.#now();
    const cumulative = this.#lastAckCumulative = this.#in.delivered;
    const unit = ackUnit(cumulative, this.#o.keys.ackMac(this.#o.side, cumulative));
    if (riding !== undefined) {
      riding.unitsOut++;
      riding.pending.push(unit);
      riding.pendingBytes += unit.length;
      return;
    }
    // One path per ACK, in turn: a lost one shows as a retransmitted unit, which
    // is acknowledged again (on the next path).
    const paths = this.#livePaths();
    if (paths.length > 0) this.#sendOn(paths[this.#ackRr++ % paths.length], unit);
  }

  // ---- sending ----

  #livePaths(): Path[] {
    // At most once per LIVE_PATHS_MS (and when the paths change): listing the paths and reading
    // each backlog (a WebSocket's is an op call) per unit cost ~2% of a busy server, and a
    // backlog a few ms old is good enough for a 1 MiB threshold.
    const now = this.#now();
    if (this.#live !== null && now - this.#liveAt < LIVE_PATHS_MS) return this.#live;
    this.#liveAt = now;
    return this.#live = this.#computeLivePaths();
  }

  #computeLivePaths(): Path[] {
    const all = [...this.#paths.values()];
    const open = all.filter((p) => p.link.backlogBytes < this.#pathBacklog);
    // Every path stalled: still use the least backed-up one rather than none.
    if (open.length === 0 && all.length > 0) {
      return [all.reduce((a, b) => (a.link.backlogBytes <= b.link.backlogBytes ? a : b))];
    }
    return open;
  }

  /**
   * Two live paths, the next pair in turn (fewer when fewer are up; none:
   * retransmission covers it once a path is back): a unit on both survives
   * the loss of either, as RaptorQ's overhead does.
   */
  #twoPaths(): Path[] {
    const paths = this.#livePaths();
    if (paths.length <= 2) return paths;
    const first = this.#rr++ % paths.length;
    return [paths[first], paths[(first + 1) % paths.length]];
  }

  #schedule(frameClass: string, paths: number): Schedule {
    const policy = this.#o.policy?.[frameClass] ?? this.#o.policy?.default ?? DEFAULT_POLICY;
    return scheduleFor(policy, paths, this.#o.fec !== undefined);
  }

  /** Queues `unit` on `path`; the turn's units leave in one write (fewer messages and syscalls). */
  #sendOn(path: Path, unit: Uint8Array): void {
    path.unitsOut++;
    if (path.pendingBytes + unit.length > MAX_WRITE) this.#write(path);
    path.pending.push(unit);
    path.pendingBytes += unit.length;
    if (!this.#writeQueued) {
      this.#writeQueued = true;
      queueMicrotask(this.#writeAll);
    }
  }

  readonly #writeAll = (): void => {
    this.#writeQueued = false;
    // A waiting ACK rides on this turn's data rather than costing a write (and, at the peer, a
    // read) of its own when its timer fires; at most one per half ACK delay, so a busy session
    // does not ACK every turn.
    if (
      this.#ackTimer !== undefined && this.#now() - this.#lastAckAt >= this.#ackDelayMs / 2
    ) {
      for (const path of this.#paths.values()) {
        if (path.pending.length === 0) continue;
        this.#sendAck(path);
        break;
      }
    }
    for (const path of this.#paths.values()) this.#write(path);
  };

  #write(path: Path): void {
    const units = path.pending;
    if (units.length === 0) return;
    const bytes = path.pendingBytes;
    path.pending = [];
    path.pendingBytes = 0;
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
      path.link.send(joined);
    } catch { /* closed under us: its close handler removes it */ }
  }

  /** Sends `units` as DATA on each of `paths`. */
  #resend(units: Outstanding[], paths: Path[]): void {
    if (paths.length === 0) return;
    for (const unit of units) {
      const bytes = dataUnit(unit.seq, unit.ciphertext);
      for (const path of paths) this.#sendOn(path, bytes);
    }
  }

  /** Units the batcher let go of: their timeout runs from now. */
  #sentNow(units: Outstanding[]): void {
    this.#out.sent(units, this.#now());
    this.#armRto();
  }

  #armRto(): void {
    if (this.#closed) return;
    const due = this.#out.dueAt();
    // Nothing outstanding, or a timer that fires no later than needed: leave it (it finds
    // nothing due and re-arms for what is) rather than clear and set one per unit, which a
    // session whose every unit is acknowledged before the next one would otherwise do.
    if (due === null || (this.#rtoTimer !== undefined && this.#rtoAt <= due)) return;
    clearTimeout(this.#rtoTimer);
    this.#rtoAt = due;
    this.#rtoTimer = setTimeout(() => {
      this.#rtoTimer = undefined;
      if (this.#closed) return;
      // A bounded burst from the head, on two paths like the first copies (any one may be
      // lost): a busy peer is not buried under copies.
      this.#resend(this.#out.takeDue(this.#now(), false, RTO_BURST), this.#twoPaths());
      this.#armRto();
    }, Math.max(0, due - this.#now()));
  }
}
