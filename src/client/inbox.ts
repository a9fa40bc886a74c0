/**
 * Where a client's delivered frames go: to the application's delivery
 * handler in the turn that read them, or into a queue that `next()` reads.
 *
 * @module
 */
import type { DecodedFrame } from "../proto/mod.ts";

/** The delivered frames of one client. */
export class Inbox {
  #queue: DecodedFrame[] = [];
  #wake: (() => void) | null = null;
  #handler: ((frame: DecodedFrame) => void) | null = null;

  /** Hands `frame` to the handler, or queues it and wakes a waiting {@link next}. */
  deliver(frame: DecodedFrame): void {
    const handler = this.#handler;
    if (handler === null) {
      this.#queue.push(frame);
      this.wake();
      return;
    }
    try {
      handler(frame);
    } catch (error) {
      // The application's error, not the connection's.
      reportError(error);
    }
  }

  /** Sets the handler (null: queue again); frames already queued go to it first. */
  setHandler(handler: ((frame: DecodedFrame) => void) | null): void {
    this.#handler = handler;
    if (handler === null) return;
    // One at a time: the handler may set another handler (or null) meanwhile.
    while (this.#handler === handler && this.#queue.length > 0) {
      const frame = this.#queue.shift()!;
      try {
        handler(frame);
      } catch (error) {
        reportError(error);
      }
    }
  }

  /** The next queued frame; waits for one, or null once `closed()` holds with none queued. */
  async next(closed: () => boolean): Promise<DecodedFrame | null> {
    while (true) {
      const frame = this.#queue.shift();
      if (frame) return frame;
      if (closed()) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }

  /** Wakes a waiting {@link next} (a frame arrived, or the connection closed). */
  wake(): void {
    this.#wake?.();
  }
}
