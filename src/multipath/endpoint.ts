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
 * The paths themselves (their per-turn joined writes, which take new units)
 * are path.ts and path_set.ts; the options and link types endpoint_options.ts.
 *
 * @module
 */
import { controlFrame, encodeFrame, FrameType, UnitDecoder } from "../proto/mod.ts";
import type { FecReceiver } from "./fec.ts";
import type { Side } from "./keys.ts";
import { DEFAULT_POLICY, type Schedule, scheduleFor } from "./policy.ts";
import { ReorderBuffer } from "./reorder.ts";
import { type Outstanding, RetransmitQueue } from "./retransmit.ts";
import { ackUnit, dataUnit, decodeBatch, decodePathUnit, fecUnit, PathKind } from "./wire.ts";
import { FecBatcher, MAX_BATCH_UNITS } from "./fec_batcher.ts";
import type { EndpointOptions, PathLink, PathStatus } from "./endpoint_options.ts";
import type { Path } from "./path.ts";
import { PathSet } from "./path_set.ts";

export type { EndpointOptions, PathEnd, PathLink, PathStatus } from "./endpoint_options.ts";

/** Units resent per retransmission timeout (oldest first). */
const RTO_BURST = 64;

/** A multipath session end. */
export class MultipathEndpoint {
  readonly #o: EndpointOptions;
  readonly #now: () => number;
  readonly #paths: PathSet;
  readonly #out: RetransmitQueue;
  readonly #in: ReorderBuffer;
  readonly #fecIn: FecReceiver | null;
  #ackRr = 0;
  #writeQueued = false;
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
    this.#paths = new PathSet(this.#now, options.pathBacklogBytes ?? 1024 * 1024);
    this.#ackDelayMs = options.ackDelayMs ?? 50;
    this.#batcher = options.fec
      ? new FecBatcher(options.fec, options.minFecBytes ?? null, {
        // Two copies on two different paths, in turn: like RaptorQ at 1/(n−1), the loss of
        // any one path loses nothing, at a fraction of the codec's cost for a small batch.
        copies: (units) => {
          this.#sentNow(units);
          this.#resend(units, this.#paths.two());
        },
        packets: (packets, units) => {
          // The units' timeout starts now, not when they were queued for a (maybe cold) encoder.
          this.#sentNow(units);
          const paths = this.#paths.live();
          if (paths.length > 0) {
            for (const p of packets) this.#sendOn(this.#paths.next(paths), fecUnit(p));
          } // else retransmission covers it once a path is back
        },
        failed: (units) => {
          this.#sentNow(units);
          this.#resend(units, this.#paths.live());
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
    return [...this.#paths.values()].map((p) => p.status());
  }

  /** Adds a path; what was not acknowledged yet is sent on it at once. Returns its id. */
  addPath(link: PathLink, mode: string, units = new UnitDecoder()): number {
    if (this.#closed) {
      link.close();
      return -1;
    }
    const path = this.#paths.add(link, mode, units);
    // The new path may be the only one left: nothing outstanding waits for a timeout.
    this.#resend(this.#out.takeDue(this.#now(), true), [path]);
    if (this.#endUnit) this.#sendOn(path, this.#endUnit);
    this.#ackDue = this.#in.delivered > 0;
    this.#scheduleAck();
    this.#armRto();
    return path.id;
  }

  /** The path's link closed: forget it and resend what it may have lost. */
  removePath(id: number, detail = "closed"): void {
    const path = this.#paths.delete(id);
    if (!path) return;
    path.write();
    path.link.close();
    this.#o.onPathEnd?.(id, "closed", detail);
    if (this.#closed) return;
    this.#resend(this.#out.takeDue(this.#now(), true), this.#paths.live());
    this.#armRto();
  }

  /** Sends the next transport message (`frameClass` picks its policy). */
  send(ciphertext: Uint8Array, frameClass = "default"): void {
    if (this.#closed) return;
    const unit = this.#out.next(ciphertext, this.#now());
    const paths = this.#paths.live();
    const schedule = this.#schedule(frameClass, paths.length);
    if (schedule.kind === "raptorq") {
      unit.held = true; // no timeout while it waits for the encoder
      this.#batcher!.add(unit, schedule.overhead, schedule.minBytes);
    } else {
      this.#batcher?.flush();
      if (schedule.kind === "duplicate") this.#resend([unit], paths);
      else if (paths.length > 0) {
        this.#sendOn(this.#paths.next(paths), dataUnit(unit.seq, ciphertext));
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
    const path = this.#paths.delete(id);
    if (!path) return;
    try {
      path.link.send(encodeFrame(controlFrame(FrameType.Error, 0, 1, { error: "path", detail })));
    } catch { /* the link is gone already */ }
    path.link.close();
    this.#o.onPathEnd?.(id, "refused", detail);
    if (!this.#closed) {
      this.#resend(this.#out.takeDue(this.#now(), true), this.#paths.live());
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
      path.write();
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
      riding.ride(unit);
      return;
    }
    // One path per ACK, in turn: a lost one shows as a retransmitted unit, which
    // is acknowledged again (on the next path).
    const paths = this.#paths.live();
    if (paths.length > 0) this.#sendOn(paths[this.#ackRr++ % paths.length], unit);
  }

  // ---- sending ----

  #schedule(frameClass: string, paths: number): Schedule {
    const policy = this.#o.policy?.[frameClass] ?? this.#o.policy?.default ?? DEFAULT_POLICY;
    return scheduleFor(policy, paths, this.#o.fec !== undefined);
  }

  /** Queues `unit` on `path`; the turn's units leave in one write (fewer messages and syscalls). */
  #sendOn(path: Path, unit: Uint8Array): void {
    path.queue(unit);
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
        if (!path.hasPending) continue;
        this.#sendAck(path);
        break;
      }
    }
    for (const path of this.#paths.values()) path.write();
  };

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
      this.#resend(this.#out.takeDue(this.#now(), false, RTO_BURST), this.#paths.two());
      this.#armRto();
    }, Math.max(0, due - this.#now()));
  }
}
