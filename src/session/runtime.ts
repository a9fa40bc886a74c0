/**
 * The state the connections of one server share: the flush timer of owed
 * cumulative Acks, the schedule of time-triggered rekeys and the
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
  /** Keeps presence and session rows of established connections fresh. */
  readonly refresher: Refresher;

  constructor(ttls: RefreshTtls) {
    this.refresher = new Refresher(ttls);
  }

  /** Stops the shared timers (the server is stopping). */
  stop(): void {
    this.acks.stop();
    this.rekeys.stop();
    this.refresher.stop();
  }
}
