/**
 * The replies of one session that wait for their frames' copies to be
 * durable ({@link AckWhenDurable}), in the order of their frames: a reply
 * goes out once its own copies and every earlier reply's are settled, so
 * Acks (and a cumulative Ack above all) never get ahead of a frame not yet
 * stored.
 *
 * Released synchronously ({@link Durability.whenSettled}): the Ack a
 * recipient's Ack releases is sent (or owed) inside that recipient's turn,
 * before the turn's outbound flush, so it rides in the same write as what
 * else the sender gets this turn. (Promise chains settled it a few
 * microtasks later, after that flush: one more WebSocket write per message.)
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";
import { type AckWhenDurable, Durability, type DurabilityListener } from "../router/mod.ts";

/**
 * Which frame a reply answers: all a reply (an owed Ack, an Error) needs of
 * it. A queued reply keeps only this, not the frame: it waits for the
 * recipient's Ack, past a scavenge, and the frame's payload is a view of
 * the whole received message.
 */
export interface FrameRef {
  readonly channel: number;
  readonly sequence: number;
}

/** What the queue releases its replies to. None of these may throw. */
export interface ReplySink {
  /** Sends the reply to the frame `about` (or owes its cumulative Ack). */
  reply(about: FrameRef, reply: Frame | null): void;
  /** The copies of the frame `about` could not be stored: the sender gets an Error instead. */
  failed(about: FrameRef, error: unknown): void;
  /** Replies went out after their frames' turn: schedule the owed Ack. */
  released(): void;
}

/** One reply in the queue; told by its frame's {@link Durability}. */
class PendingReply implements DurabilityListener, FrameRef {
  done = false;
  error: unknown = undefined;
  failedWrite = false;
  readonly channel: number;
  readonly sequence: number;

  constructor(
    readonly queue: ReplyQueue,
    frame: FrameRef,
    readonly reply: Frame | null,
  ) {
    this.channel = frame.channel;
    this.sequence = frame.sequence;
  }

  durable(): void {
    this.done = true;
    this.queue.drain();
  }

  failed(error: unknown): void {
    this.done = true;
    this.failedWrite = true;
    this.error = error;
    this.queue.drain();
  }
}

/** The session's replies waiting for durable copies, in frame order. */
export class ReplyQueue {
  readonly #sink: ReplySink;
  readonly #report: (error: unknown) => void;
  #items: PendingReply[] = [];
  #draining = false;

  /** `report` hears a reply that threw (a bug: the next replies still go). */
  constructor(sink: ReplySink, report: (error: unknown) => void) {
    this.#sink = sink;
    this.#report = report;
  }

  /** True when no reply waits: a ready one may go out at once. */
  get empty(): boolean {
    return this.#items.length === 0;
  }

  /** Queues `frame`'s reply until `durable` settles and every earlier reply went. */
  afterDurable(
    frame: FrameRef,
    reply: AckWhenDurable["reply"],
    durable: Promise<void>,
  ): void {
    const pending = new PendingReply(this, frame, reply);
    this.#items.push(pending);
    if (durable instanceof Durability) durable.whenSettled(pending);
    else durable.then(() => pending.durable(), (error: unknown) => pending.failed(error));
  }

  /** Queues a reply that is ready, behind the earlier ones that are not. */
  ready(frame: FrameRef, reply: Frame | null): void {
    const pending = new PendingReply(this, frame, reply);
    pending.done = true;
    this.#items.push(pending);
    this.drain();
  }

  /** Sends the replies at the front whose copies are settled. */
  drain(): void {
    if (this.#draining) return; // the outer call goes on with them
    this.#draining = true;
    let sent = false;
    try {
      while (this.#items.length > 0 && this.#items[0].done) {
        const next = this.#items.shift()!;
        sent = true;
        try {
          if (next.failedWrite) this.#sink.failed(next, next.error);
          else this.#sink.reply(next, next.reply);
        } catch (error) {
          this.#report(error);
        }
      }
    } finally {
      this.#draining = false;
    }
    if (sent) this.#sink.released();
  }
}
