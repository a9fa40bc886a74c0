/**
 * The state the connections of one server share: the flush timer of owed
 * cumulative Acks, the schedules of handshake deadlines and time-triggered rekeys and the
 * presence/session refresher. The server creates one
 * and hands it to every connection; nothing of it lives in module globals,
 * so two servers in one process (tests, clusters) never share timers.
 *
 * @module
 */
import { CoarseSchedule } from "./coarse_schedule.ts";
import { OwedAckScheduler } from "./owed_acks.ts";
import { Refresher, type RefreshTtls } from "./refresher.ts";

/** Shared per-server session machinery. */
export class SessionRuntime {
  /** Sends the owed cumulative Acks after the current event-loop turn. */
  readonly acks: OwedAckScheduler = new OwedAckScheduler();
  /** Time-triggered rekeys of every session: one timer, 1 s slots. */
  readonly rekeys: CoarseSchedule = new CoarseSchedule(1000);
  /**
   * The handshake deadlines of connections still handshaking: one timer in
   * slots of 1/20 of the handshake timeout (at most 250 ms), so a deadline
   * fires at most 5% late. A `setTimeout` and its closure per connection cost
   * ~4 µs per handshake (set and clear) and ~0.4 KiB of garbage. Pending
   * deadlines keep the process alive, as those timers did.
   */
  readonly handshakes: CoarseSchedule;
  /** Keeps presence and session rows of established connections fresh. */
  readonly refresher: Refresher;
  /**
   * When the chunk being processed right now was read from its link
   * (`performance.now()`), NaN between chunks: a live delivery made while
   * it is processed takes it along to its write (`commucat_route_delay_seconds`).
   * Processing is synchronous up to a store or route read, so one field
   * serves every connection of the server.
   */
  readAt = Number.NaN;

  /** @param handshakeTimeoutMs the connections' handshake timeout (sets the deadlines' slot). */
  constructor(ttls: RefreshTtls, handshakeTimeoutMs = 10_000) {
    this.refresher = new Refresher(ttls);
    this.handshakes = new CoarseSchedule(
      Math.min(250, Math.max(1, handshakeTimeoutMs / 20)),
      undefined,
      true,
    );
  }

  /** Stops the shared timers (the server is stopping). */
  stop(): void {
    this.acks.stop();
    this.rekeys.stop();
    this.handshakes.stop();
    this.refresher.stop();
  }
}
