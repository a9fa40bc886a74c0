/**
 * The settlement of a group of kept copies (the copies of one frame, or of
 * every frame kept since the last `KeptCopies.durable` call): a count of
 * copies neither acknowledged nor written, and who waits for it. Told
 * synchronously by whatever settles the last copy (another session's Ack,
 * a write's completion).
 *
 * @module
 */

/**
 * Told synchronously when the copies it waits for are settled (see
 * {@link Durability.whenSettled}). Must not throw: it runs inside whatever
 * settled the last copy (another session's Ack, a write's completion).
 */
export interface DurabilityListener {
  /** Every copy is acknowledged by its device or written (`token`: as given to `whenSettled`). */
  durable(token: number): void;
  /** A write failed: the sender must get an Error, not the Ack. */
  failed(error: unknown, token: number): void;
}

/** A listener and its token, when a group has several. */
interface Waiter {
  readonly listener: DurabilityListener;
  readonly token: number;
}

/** The copies of one frame (or of every frame kept since the last `KeptCopies.durable`). */
export interface CopyGroup {
  /** Copies neither acknowledged nor written yet. */
  remaining: number;
  /**
   * Who waits (set once someone does), told once, when the group settles:
   * the one listener itself (with {@link token}), an array only for several —
   * a 1:1 frame's group has one (its sender's reply queue) and lives until
   * the recipient's Ack, so an array per frame would be promoted.
   */
  listeners: DurabilityListener | Waiter[] | null;
  /**
   * The one listener's token: which of its waits this is (a reply queue
   * listens for all its replies, each by its frame's sequence, so no
   * listener object per reply lives until the Ack).
   */
  token: number;
  failed: boolean;
  error?: unknown;
}

/**
 * The settlement of the copies one `KeptCopies.durable` call answers
 * for: awaitable, and {@link whenSettled} tells a listener synchronously, in
 * the call that settled the last copy (not a real promise: an `instanceof
 * Durability` check finds the synchronous way). A session's Ack released by its
 * recipient's Ack is then owed within that recipient's turn, ahead of the
 * turn's outbound flush, so it rides with the turn's deliveries instead of
 * leaving as a write of its own after a few promise hops.
 */
export class Durability implements Promise<void> {
  /** The group it answers for; null: it is that group itself (a `KeptCopy` alone in its group). */
  readonly #own: CopyGroup | null;

  constructor(group: CopyGroup | null) {
    this.#own = group;
  }

  /** On the prototype: a field would cost every kept copy a slot. */
  get [Symbol.toStringTag](): string {
    return "Durability";
  }

  get #group(): CopyGroup {
    return this.#own ?? (this as unknown as CopyGroup);
  }

  /**
   * Tells `listener` once the copies are settled (at once if they are),
   * with `token` (default 0).
   */
  whenSettled(listener: DurabilityListener, token = 0): void {
    const group = this.#group;
    if (group.failed) listener.failed(group.error, token);
    else if (group.remaining === 0) listener.durable(token);
    else if (group.listeners === null) {
      group.listeners = listener;
      group.token = token;
    } else if (Array.isArray(group.listeners)) group.listeners.push({ listener, token });
    else group.listeners = [{ listener: group.listeners, token: group.token }, { listener, token }];
  }

  /** Resolves when every copy is settled; rejects with a failed write's error. */
  then<A = void, B = never>(
    onFulfilled?: ((value: void) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return waitFor(this.#group).then(onFulfilled, onRejected);
  }

  /** The promise's `catch` (a thenable that also has it passes for a promise). */
  catch<B = never>(
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<void | B> {
    return waitFor(this.#group).catch(onRejected);
  }

  /** The promise's `finally`. */
  finally(onFinally?: (() => void) | null): Promise<void> {
    return waitFor(this.#group).finally(onFinally);
  }
}

/** A group with no copy yet. */
export function newGroup(): CopyGroup {
  return { remaining: 0, listeners: null, token: 0, failed: false };
}

/**
 * A promise of `group`'s settlement, one per call (awaiting is for tests and
 * tools; the hot path listens): a field for a promise made once cost every
 * kept copy a slot.
 */
function waitFor(group: CopyGroup): Promise<void> {
  const promise = new Promise<void>((resolve, reject) => {
    new Durability(group).whenSettled({ durable: () => resolve(), failed: reject });
  });
  // Handled here: whoever awaits it still sees the rejection.
  promise.catch(() => {});
  return promise;
}

/** One copy of `group` is acknowledged or written; the last one tells the listeners. */
export function copySettled(group: CopyGroup): void {
  if (--group.remaining !== 0 || group.failed) return;
  const listeners = group.listeners;
  group.listeners = null;
  if (listeners === null) return;
  if (!Array.isArray(listeners)) listeners.durable(group.token);
  else for (const { listener, token } of listeners) listener.durable(token);
}

/** The write of one copy of `group` failed: the listeners are told (once). */
export function groupFailed(group: CopyGroup, error: unknown): void {
  group.remaining--;
  if (group.failed) return;
  group.failed = true;
  group.error = error;
  const listeners = group.listeners;
  group.listeners = null;
  if (listeners === null) return;
  if (!Array.isArray(listeners)) listeners.failed(error, group.token);
  else for (const { listener, token } of listeners) listener.failed(error, token);
}
