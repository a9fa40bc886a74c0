/**
 * The traffic engine: groups of connections (2 = a 1:1 pair) where every
 * member sends 100 B messages that the others receive. Each payload carries
 * its send time and sender, so the receiving side (same process) measures
 * delivery latency and returns the sender's window credit. The same engine
 * drives CommuCat sessions and raw WebSockets to the baseline relay.
 *
 * @module
 */
import { type HistogramJson, LatencyHistogram } from "./stats.ts";
import { selfCpuSeconds } from "./procfs.ts";
import { type PhaseTimeline, TimelineRecorder } from "./timeline.ts";

/** Size of every message payload. */
export const PAYLOAD_BYTES = 100;

/** One connection the engine can send through and hear from. */
export interface LoadConn {
  /** Sends one payload to the other members of its group. */
  send(payload: Uint8Array): void;
  /** Set by the engine: called with every payload delivered to this connection. */
  onMessage: ((payload: Uint8Array) => void) | null;
  close(): void;
}

/**
 * How often the rate-limited phase looks for due sends. Each sender has its
 * own evenly spaced schedule, staggered against the others (see
 * {@link TrafficEngine.run}), so a tick sends only what fell due since the
 * last one instead of a burst of every sender at once.
 */
export const PACING_TICK_MS = 1;

/**
 * The rate-limited schedule: each of `senders` senders sends every
 * `intervalMs`; sender i first at `firstDueMs[i]` after the start. The
 * offsets stagger the senders evenly across one interval, so together they
 * send one message every `intervalMs / senders` — an even stream, not a
 * burst of every sender per interval.
 */
export function pacedSchedule(
  senders: number,
  fanout: number,
  ratePerSecond: number,
): { intervalMs: number; firstDueMs: number[] } {
  if (senders < 1 || fanout < 1 || !(ratePerSecond > 0)) {
    throw new Error("pacing needs senders, a fanout and a positive rate");
  }
  // Each message makes `fanout` deliveries; the rate counts deliveries.
  const intervalMs = 1000 * senders * fanout / ratePerSecond;
  return {
    intervalMs,
    firstDueMs: Array.from({ length: senders }, (_, i) => intervalMs * i / senders),
  };
}

/** How to drive one phase. */
export interface PhaseSpec {
  /**
   * Delivered messages per second for the whole agent; null = as fast as the
   * window allows. Paced: every sender sends at even intervals, the senders'
   * schedules staggered evenly across one interval.
   */
  ratePerSecond: number | null;
  /** Messages a sender may have in flight (sent, not yet delivered everywhere). */
  window: number;
  warmupMs: number;
  durationMs: number;
  /** After the measured window, how long to wait for messages still in flight. */
  drainMs: number;
  /** Also return every measured delivery with its time (`--timeline`). */
  timeline?: boolean;
  /** Payload size (default {@link PAYLOAD_BYTES}; raw relay phases: above its 24 B acks). */
  payloadBytes?: number;
}

/** What one phase measured (on one agent). */
export interface PhaseResult {
  /** Messages sent during the measured window. */
  sent: number;
  /** Deliveries (one per recipient) received during the measured window. */
  delivered: number;
  measuredSeconds: number;
  /** Delivery latency of the measured window. */
  latency: HistogramJson;
  /** Deliveries still missing when the drain ended. */
  missing: number;
  sendErrors: number;
  /** CPU seconds this agent process used during the measured window. */
  clientCpuSeconds: number;
  /**
   * Rate-limited phase: how late each send of the measured window left after
   * its scheduled time (timer granularity, a busy client, a full window).
   * Latency counts from the actual send, so this is the part it leaves out.
   */
  sendLateness?: HistogramJson;
  /** With `spec.timeline`: the deliveries over time and the pacing tick's gaps. */
  timeline?: PhaseTimeline;
}

interface Sender {
  index: number;
  conn: LoadConn;
  /** Deliveries still expected for what this sender sent. */
  outstanding: number;
  sent: number;
  /** Rate-limited phase: `performance.now()` when the next send is due. */
  nextDue: number;
}

/** Drives groups of connections. */
export class TrafficEngine {
  readonly #senders: Sender[] = [];
  readonly #fanout: number;
  #sendErrors = 0;

  /** `groups`: each inner array is one group (route) of connections; all groups have the same size. */
  constructor(groups: LoadConn[][]) {
    const size = groups[0]?.length ?? 0;
    if (size < 2 || groups.some((g) => g.length !== size)) {
      throw new Error("groups must all have the same size, at least 2");
    }
    this.#fanout = size - 1;
    for (const group of groups) {
      for (const conn of group) {
        this.#senders.push({
          index: this.#senders.length,
          conn,
          outstanding: 0,
          sent: 0,
          nextDue: 0,
        });
      }
    }
  }

  /** Recipients per message. */
  get fanout(): number {
    return this.#fanout;
  }

  /** Counts a send the server refused (CommuCat: an Error instead of an Ack). */
  countSendError(): void {
    this.#sendErrors++;
  }

  /** Runs one phase: warm-up, measured window, drain. */
  async run(spec: PhaseSpec): Promise<PhaseResult> {
    const histogram = new LatencyHistogram();
    const lateness = new LatencyHistogram();
    const start = performance.now();
    const measureStart = start + spec.warmupMs;
    const measureEnd = measureStart + spec.durationMs;
    let running = true;
    let delivered = 0;
    let sentInWindow = 0;
    let cpuStart = 0;
    const budget = spec.window * this.#fanout;
    const payload = new Uint8Array(spec.payloadBytes ?? PAYLOAD_BYTES);
    const view = new DataView(payload.buffer);
    const errorsBefore = this.#sendErrors;
    const timeline = spec.timeline ? new TimelineRecorder() : null;

    const sendOne = (sender: Sender, now: number) => {
      view.setFloat64(0, now, true);
      view.setUint32(8, sender.index, true);
      view.setUint32(12, sender.sent, true);
      sender.outstanding += this.#fanout;
      sender.sent++;
      if (now >= measureStart && now < measureEnd) sentInWindow++;
      // Connections copy or encrypt the payload synchronously, so one buffer serves all.
      sender.conn.send(payload);
    };
    const pump = (sender: Sender) => {
      while (running && sender.outstanding + this.#fanout <= budget) {
        sendOne(sender, performance.now());
      }
    };
    let drained: (() => void) | null = null;
    let outstandingTotal = 0;
    for (const receiver of this.#senders) {
      receiver.conn.onMessage = (bytes) => {
        if (bytes.length < 16) return;
        const now = performance.now();
        const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const sender = this.#senders[data.getUint32(8, true)];
        if (!sender) return;
        sender.outstanding--;
        if (now >= measureStart && now < measureEnd) {
          delivered++;
          const latency = now - data.getFloat64(0, true);
          histogram.record(latency);
          timeline?.delivery(now, latency);
        }
        if (running) {
          if (spec.ratePerSecond === null) pump(sender);
        } else if (drained && --outstandingTotal <= 0) {
          drained();
        }
      };
    }

    const timers: ReturnType<typeof setTimeout>[] = [];
    timers.push(setTimeout(() => (cpuStart = selfCpuSeconds()), spec.warmupMs));
    if (spec.ratePerSecond === null) {
      for (const sender of this.#senders) pump(sender);
    } else {
      // Each sender every `interval` ms, sender i offset by i/n of it: the n
      // schedules interleave into one even stream of sends. (All senders due
      // at the same instant would leave in one burst per interval and measure
      // the burst's queue, not the server.)
      const schedule = pacedSchedule(this.#senders.length, this.#fanout, spec.ratePerSecond);
      const interval = schedule.intervalMs;
      for (const sender of this.#senders) {
        sender.nextDue = start + schedule.firstDueMs[sender.index];
      }
      const tick = () => {
        timeline?.tick(performance.now());
        for (const sender of this.#senders) {
          while (sender.outstanding + this.#fanout <= budget) {
            const now = performance.now();
            if (sender.nextDue > now) break;
            if (now >= measureStart && now < measureEnd) lateness.record(now - sender.nextDue);
            sender.nextDue += interval;
            sendOne(sender, now);
          }
        }
      };
      timers.push(setInterval(tick, PACING_TICK_MS));
    }
    await new Promise((resolve) => setTimeout(resolve, spec.warmupMs + spec.durationMs));
    const clientCpuSeconds = selfCpuSeconds() - cpuStart;
    running = false;
    for (const timer of timers) clearTimeout(timer);
    outstandingTotal = this.#senders.reduce((sum, s) => sum + s.outstanding, 0);
    if (outstandingTotal > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, spec.drainMs);
      });
    }
    const missing = this.#senders.reduce((sum, s) => sum + Math.max(0, s.outstanding), 0);
    for (const sender of this.#senders) {
      sender.outstanding = 0;
      sender.sent = 0;
    }
    return {
      sent: sentInWindow,
      delivered,
      measuredSeconds: spec.durationMs / 1000,
      latency: histogram.toJSON(),
      missing,
      sendErrors: this.#sendErrors - errorsBefore,
      clientCpuSeconds,
      sendLateness: spec.ratePerSecond === null ? undefined : lateness.toJSON(),
      timeline: timeline?.toJSON(),
    };
  }
}
