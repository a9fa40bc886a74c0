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

/**
 * What the queue releases its replies to. None of these may throw. `about`
 * is the queue's own scratch object, valid only during the call (no object
 * per released reply): read it, never keep it.
 */
export interface ReplySink {
  /** Sends the reply to the frame `about` (or owes its cumulative Ack). */
  reply(about: FrameRef, reply: Frame | null): void;
  /** The copies of the frame `about` could not be stored: the sender gets an Error instead. */
  failed(about: FrameRef, error: unknown): void;
  /** Replies went out after their frames' turn: schedule the owed Ack. */
  released(): void;
}

/** A reply's state in the queue. */
const WAITING = 0, DONE = 1, FAILED = 2;

/** Slots per waiting reply in {@link ReplyQueue}'s one array: sequence, channel, reply, state. */
const STRIDE = 4;
/** Slots consumed at the front that make moving the rest down worth it (and at least half). */
const COMPACT_AFTER = 1024;

/**
 * The session's replies waiting for durable copies, in frame order. The
 * queue itself is the listener of every frame's {@link Durability}, told
 * with the frame's sequence as the token; the replies are slots of one
 * array, not an object each: a reply waits for the recipient's Ack, past a
 * scavenge, so an object per reply was copied and promoted. The array keeps
 * its backing store when the queue empties (a front index, not shift): four
 * arrays shifted to empty after every Ack were four new backing stores per
 * message (~300 B per delivery allocated), for ~16 slots kept per session
 * that routes queued frames.
 */
export class ReplyQueue implements DurabilityListener {
  readonly #sink: ReplySink;
  readonly #report: (error: unknown) => void;
  /**
   * Per waiting reply, in frame order (strictly increasing sequences), from
   * {@link #front} to {@link #end}: its sequence, channel, reply and state.
   */
  #slots: (number | Frame | null)[] = [];
  #front = 0;
  #end = 0;
  /** The errors of replies whose copies failed, by sequence (rare). */
  #errors: Map<number, unknown> | null = null;
  #draining = false;
  /** Which frame the reply being released answers (valid only during the sink's call). */
  readonly #about = { sequence: 0, channel: 0 };

  /** `report` hears a reply that threw (a bug: the next replies still go). */
  constructor(sink: ReplySink, report: (error: unknown) => void) {
    this.#sink = sink;
    this.#report = report;
  }

  /** True when no reply waits: a ready one may go out at once. */
  get empty(): boolean {
    return this.#front === this.#end;
  }

  /** Queues `frame`'s reply until `durable` settles and every earlier reply went. */
  afterDurable(
    frame: FrameRef,
    reply: AckWhenDurable["reply"],
    durable: Promise<void>,
  ): void {
    const sequence = frame.sequence;
    this.#push(frame, reply, WAITING);
    if (durable instanceof Durability) durable.whenSettled(this, sequence);
    else this.#afterPromise(durable, sequence);
  }

  /**
   * {@link afterDurable} of a plain promise. A method of its own: its
   * handlers' `this` and `sequence` made a context on every afterDurable,
   * the usual {@link Durability} included.
   */
  #afterPromise(durable: Promise<void>, sequence: number): void {
    durable.then(
      () => this.durable(sequence),
      (error: unknown) => this.failed(error, sequence),
    );
  }

  /** Queues a reply that is ready, behind the earlier ones that are not. */
  ready(frame: FrameRef, reply: Frame | null): void {
    this.#push(frame, reply, DONE);
    this.drain();
  }

  /** The copies of the frame `sequence` are settled (its {@link Durability} tells). */
  durable(sequence: number): void {
    this.#mark(sequence, DONE);
  }

  /** The copies of the frame `sequence` could not be stored. */
  failed(error: unknown, sequence: number): void {
    if (this.#mark(sequence, FAILED)) (this.#errors ??= new Map()).set(sequence, error);
    this.drain();
  }

  #push(frame: FrameRef, reply: Frame | null, state: number): void {
    const slots = this.#slots;
    let at = this.#end;
    if (at === slots.length) {
      slots.push(frame.sequence, frame.channel, reply, state);
    } else {
      slots[at] = frame.sequence;
      slots[at + 1] = frame.channel;
      slots[at + 2] = reply;
      slots[at + 3] = state;
    }
    at += STRIDE;
    this.#end = at;
  }

  /** Marks the waiting reply `sequence` (true when it was waiting) and drains unless failed. */
  #mark(sequence: number, state: number): boolean {
    const slots = this.#slots;
    const end = this.#end;
    // Usually the front: Acks come back in about the order frames went.
    let at = this.#front;
    while (at < end && (slots[at] as number) < sequence) at += STRIDE;
    if (at === end || slots[at] !== sequence || slots[at + 3] !== WAITING) return false;
    slots[at + 3] = state;
    if (state === DONE) this.drain();
    return true;
  }

  /** Sends the replies at the front whose copies are settled. */
  drain(): void {
    if (this.#draining) return; // the outer call goes on with them
    this.#draining = true;
    let sent = false;
    const slots = this.#slots;
    const about = this.#about;
    try {
      while (this.#front < this.#end && slots[this.#front + 3] !== WAITING) {
        const at = this.#front;
        const state = slots[at + 3];
        about.sequence = slots[at] as number;
        about.channel = slots[at + 1] as number;
        const reply = slots[at + 2] as Frame | null;
        slots[at + 2] = null; // the slot must not hold the reply frame
        this.#front = at + STRIDE;
        sent = true;
        try {
          if (state === FAILED) {
            const error = this.#errors?.get(about.sequence);
            this.#errors!.delete(about.sequence);
            this.#sink.failed(about, error);
          } else this.#sink.reply(about, reply);
        } catch (error) {
          this.#report(error);
        }
      }
    } finally {
      this.#draining = false;
      this.#compact();
    }
    if (sent) this.#sink.released();
  }

  /** Starts over at slot 0 once empty; moves the rest down when the front passed half. */
  #compact(): void {
    const front = this.#front;
    if (front === this.#end) {
      this.#front = this.#end = 0;
    } else if (front >= COMPACT_AFTER && front * 2 >= this.#end) {
      const slots = this.#slots;
      slots.copyWithin(0, front, this.#end);
      this.#end -= front;
      this.#front = 0;
      slots.fill(null, this.#end); // no reply kept alive past the end
    }
  }
}
