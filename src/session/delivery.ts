/**
 * Acknowledged delivery to one connected device: the frames sent but not yet
 * acknowledged (each queued-type frame with its stored copy, removed when the
 * device acknowledges it) and the offline-queue drain that feeds them.
 *
 * @module
 */
import { decodeFrame, type Frame } from "../proto/mod.ts";
import type { DeliveryOrigin, EnvelopeRef, OfflineQueue } from "../router/mod.ts";
import type { Logger } from "../log/mod.ts";

/** Offline-queue rows read per batch. */
const QUEUE_BATCH = 128;
/** Attempts of {@link requeueDurably} before it gives up (about 35 s of store outage). */
const REQUEUE_ATTEMPTS = 12;

/** The collaborators delivery needs (a subset of the connection's). */
export interface DeliveryDeps {
  /** The router, for its offline queue. */
  router: { readonly offlineQueue: OfflineQueue };
  log: Logger;
  outboundQueueFrames: number;
}

/** The connection delivery works for. */
export interface DeliveryTarget {
  readonly connectionId: string;
  readonly deviceId: string;
  readonly established: boolean;
  deliver(frame: Frame, origin?: DeliveryOrigin): boolean;
  checkOfflineQueue(): void;
}

/**
 * The empty window, shared (frozen: a push would throw). An idle session held
 * two arrays of its own, and once it had been sent anything, their grown
 * backing stores (~0.3 KiB) for the rest of its life.
 */
const NONE: never[] = Object.freeze([]) as never[];

/** Unacknowledged frames and the offline-queue drain of one connection. */
export class Delivery {
  readonly #target: DeliveryTarget;
  readonly #deps: DeliveryDeps;
  /** Sequences of the frames sent and not yet acknowledged, in order. */
  #sequences: number[] = NONE;
  /**
   * Per entry of {@link #sequences}: its kept copy's envelope id (a live
   * copy's counter: a small integer, no string), or the frame itself when it
   * has none (for {@link requeueUnacked}; a frame with a copy is written from
   * the copy, so it is not held here). Two parallel arrays, not an object per
   * frame: an entry lives until the device's Ack, past a scavenge, so
   * whatever it allocates is copied and promoted.
   */
  #items: (EnvelopeRef | Frame)[] = NONE;
  /** Position of the last offline-queue row handed to the device. */
  #queuePosition: bigint | undefined;
  #draining = false;
  #drainAgain = false;
  #drainPaused = false;
  /** Retries a drain that failed (store down): nothing else may look at the queue again. */
  #drainRetry: ReturnType<typeof setTimeout> | undefined;
  #drainFailures = 0;

  constructor(target: DeliveryTarget, deps: DeliveryDeps) {
    this.#target = target;
    this.#deps = deps;
  }

  /** True when the outbound frame bound is reached. */
  get full(): boolean {
    return this.#sequences.length >= this.#deps.outboundQueueFrames;
  }

  /** True while less than half the outbound frame bound is awaiting Acks (room for call media). */
  get underHalfFull(): boolean {
    return this.#sequences.length < this.#deps.outboundQueueFrames / 2;
  }

  /**
   * True when the offline queue is caught up: no drain running, paused or
   * waiting to retry. Only then may a row just written elsewhere be delivered
   * as it arrives (it is newer than everything this connection was given);
   * otherwise it waits its turn in the queue.
   */
  get caughtUp(): boolean {
    return !this.#draining && !this.#drainPaused && this.#drainRetry === undefined;
  }

  /** Records a sent frame as awaiting the client's Ack. */
  track(sequence: number, frame: Frame, envelopeId: EnvelopeRef | undefined): void {
    const item = envelopeId ? envelopeId : frame;
    if (this.#sequences === NONE) {
      // Sized for one: a device that acknowledges each delivery (the usual
      // turn) never has more, and an empty array's first push reserves 17.
      this.#sequences = [sequence];
      this.#items = [item];
      return;
    }
    this.#sequences.push(sequence);
    this.#items.push(item);
  }

  /** Settles every frame up to sequence `upTo`; their stored copies are deleted. */
  settle(upTo: number): void {
    let settled = 0;
    let copies = 0;
    const sequences = this.#sequences;
    const items = this.#items;
    while (settled < sequences.length && sequences[settled] <= upTo) {
      if (typeof items[settled] !== "object") copies++;
      settled++;
    }
    if (settled === 0) return;
    let envelopeIds: EnvelopeRef[] | null = null;
    if (settled === sequences.length) {
      // All acknowledged (the usual case): the arrays go, backing stores and all;
      // when every entry has a copy, the dropped array is the list of their ids.
      this.#sequences = NONE;
      this.#items = NONE;
      if (copies === settled) envelopeIds = items as EnvelopeRef[];
    }
    if (copies > 0 && envelopeIds === null) {
      // Sized: an empty array's first push reserves 17 slots.
      envelopeIds = new Array<EnvelopeRef>(copies);
      for (let i = 0, j = 0; i < settled; i++) {
        const item = items[i];
        if (typeof item !== "object") envelopeIds[j++] = item;
      }
    }
    if (settled < sequences.length) {
      if (settled <= 4) {
        // Shifted: a splice makes an array of what it removes, every time.
        for (let i = 0; i < settled; i++) {
          sequences.shift();
          items.shift();
        }
      } else {
        sequences.splice(0, settled);
        items.splice(0, settled);
      }
    }
    if (envelopeIds !== null) {
      this.#removeRows(this.#target.deviceId, envelopeIds);
    }
    if (this.#drainPaused) {
      this.#drainPaused = false;
      void this.drain();
    }
  }

  /**
   * Removes the queued rows `envelopeIds` of `deviceId`. Copies acknowledged
   * before their write leave nothing to wait for (no promise), so only a real
   * removal gets a handler.
   */
  #removeRows(deviceId: string, envelopeIds: EnvelopeRef[]): void {
    const removal = this.#deps.router.offlineQueue.settle(deviceId, envelopeIds);
    if (removal !== null) this.#warnIfRemovalFails(removal);
  }

  /**
   * Logs a failed removal: the rows stay, the device sees them again after a
   * reconnect (at least once). A method of its own: the handler's `this` made
   * a context on every {@link #removeRows}, i.e. on every Ack.
   */
  #warnIfRemovalFails(removal: Promise<void>): void {
    removal.catch((error: unknown) =>
      this.#deps.log.warn("offline queue settle failed", { error: String(error) })
    );
  }

  /** Delivers the offline queue while there is room; one drain at a time. */
  async drain(): Promise<void> {
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    const target = this.#target;
    this.#draining = true;
    try {
      do {
        this.#drainAgain = false;
        while (target.established) {
          const room = Math.min(
            QUEUE_BATCH,
            this.#deps.outboundQueueFrames - this.#sequences.length,
          );
          if (room <= 0) {
            this.#drainPaused = true;
            return;
          }
          const batch = await this.#deps.router.offlineQueue.load(target.deviceId, {
            limit: room,
            afterPosition: this.#queuePosition,
          });
          // Rows this connection holds already: copies of frames it got live,
          // kept until it acknowledges them (PROTOCOL.md §4 "Offline queue").
          const held = this.#heldEnvelopes();
          for (const envelope of batch) {
            if (held?.has(envelope.envelopeId)) {
              this.#queuePosition = envelope.position;
              continue;
            }
            let frame: Frame;
            try {
              frame = decodeFrame(envelope.payload)!.frame;
            } catch {
              // Undecodable (written by a broken version?): drop it, or it blocks the queue.
              this.#removeRows(target.deviceId, [envelope.envelopeId]);
              this.#queuePosition = envelope.position;
              continue;
            }
            if (!target.deliver(frame, { envelopeId: envelope.envelopeId, fromQueue: true })) {
              this.#drainPaused = true;
              return;
            }
            this.#queuePosition = envelope.position;
          }
          if (batch.length < room) break;
        }
      } while (this.#drainAgain && target.established);
      this.#drainFailures = 0;
    } catch (error) {
      this.#deps.log.warn("offline queue drain failed", {
        connection: target.connectionId,
        error: String(error),
      });
      if (target.established && this.#drainRetry === undefined) {
        const delay = Math.min(500 * 2 ** this.#drainFailures++, 30_000);
        this.#drainRetry = setTimeout(() => {
          this.#drainRetry = undefined;
          target.checkOfflineQueue();
        }, delay);
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Envelope ids of the frames sent and not yet acknowledged; null when none. */
  #heldEnvelopes(): Set<string> | null {
    let held: Set<string> | null = null;
    const queue = this.#deps.router.offlineQueue;
    for (const item of this.#items) {
      if (typeof item !== "object") (held ??= new Set()).add(queue.envelopeIdOf(item));
    }
    return held;
  }

  /** Cancels a scheduled drain retry (the connection closed). */
  stop(): void {
    clearTimeout(this.#drainRetry);
  }

  /**
   * Writes the kept copies of the unacknowledged frames still held in the
   * durable-copy window (OfflineQueue.keep), and puts the unacknowledged
   * frames that have no copy back into the offline queue, in order (both
   * start synchronously: the store takes writes in call order). Since every
   * queued-type frame delivered live has a kept copy, none is left for the
   * requeue but the live-only ones, which it drops. A safety net for a peer
   * that hands over a queued-type frame without its copy.
   */
  requeueUnacked(): Promise<void>[] {
    const kept: EnvelopeRef[] = [];
    const unacked: Frame[] = [];
    for (const item of this.#items) {
      if (typeof item !== "object") kept.push(item);
      else unacked.push(item);
    }
    if (kept.length > 0) this.#deps.router.offlineQueue.releaseKept(kept);
    this.#sequences = NONE;
    this.#items = NONE;
    return unacked.map((frame) => requeueDurably(this.#deps, this.#target.deviceId, frame));
  }
}

/**
 * Puts an unacknowledged live frame back into the offline queue, retrying
 * with backoff while the store fails: its sender was acknowledged already,
 * so this copy is the only one left.
 */
async function requeueDurably(d: DeliveryDeps, deviceId: string, frame: Frame): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await d.router.offlineQueue.requeue(deviceId, frame);
      return;
    } catch (error) {
      if (attempt >= REQUEUE_ATTEMPTS) {
        d.log.error("could not requeue an unacknowledged frame; dropped", {
          device: deviceId,
          attempts: attempt,
          error: String(error),
        });
        return;
      }
      d.log.warn("requeue failed; retrying", { device: deviceId, error: String(error) });
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5_000)));
    }
  }
}
