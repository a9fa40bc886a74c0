/**
 * The established phase of a connection: upstream Noise units decrypted into
 * CCP-1 frames, checked (sequence, size) and routed; replies, Errors and
 * cumulative Acks go out through the {@link Outbound}.
 *
 * Bounds (PROTOCOL.md §2): a frame whose declared length cannot be delivered
 * is refused as soon as its length prefix is read; a frame begun must be
 * completed within the partial-frame timeout; a client that keeps provoking
 * Errors is closed.
 *
 * @module
 */
import type { EpochTransport, NoiseTransport } from "../crypto/mod.ts";
import {
  controlFrame,
  type DecodedFrame,
  type Frame,
  type FrameDecoder,
  FrameType,
  isRekeyBody,
  paddedFramesEnd,
  type UnitDecoder,
} from "../proto/mod.ts";
import type { Peer, RouteOptions, Router, RouteReply } from "../router/mod.ts";
import { AckWhenDurable, RouteError } from "../router/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { CloseReason } from "./close_reason.ts";
import { codecText } from "./handshake_phase.ts";
import type { ConnectionObserver } from "./observer.ts";
import type { Outbound } from "./outbound.ts";
import type { CoarseSchedule } from "./coarse_schedule.ts";
import type { OwedAckScheduler } from "./owed_acks.ts";
import { type RekeyPolicy, type RekeySide, SessionRekey } from "./rekey.ts";
import { type FrameRef, ReplyQueue } from "./reply_queue.ts";
import { MAX_ROUTABLE_PAYLOAD } from "./frame_limits.ts";
import { frameDecoder, keptFrameDecoder, keptUnitDecoder, unitDecoder } from "./shared_decoders.ts";

export {
  MAX_DELIVERABLE_FRAME,
  MAX_ESTABLISHED_FRAME,
  MAX_ROUTABLE_PAYLOAD,
} from "./frame_limits.ts";
/** Errors a client may provoke in a burst before it is closed… */
export const ERROR_BURST = 64;
/** …and how many per second it earns back. */
const ERRORS_PER_SECOND = 8;

/** The Error code of a failed dependency: the client did nothing wrong. */
const SERVER_FAULT = "unavailable";

const DEFER_PLAIN_ACK: RouteOptions = { deferPlainAck: true };
/**
 * The `routed` event's info, filled per routed frame (observers read it
 * during the call only, see ConnectionObserver.routed): an object per
 * routed frame was ~30 B of garbage per 1:1 message.
 */
const ROUTED = { type: 0, seconds: 0 };
const EMPTY_FRAMES: DecodedFrame[] = [];

/** What the established phase needs from its connection. */
export interface EstablishedSide {
  /** The connection as the router knows it. */
  readonly peer: Peer;
  /** True while the connection is established (false once it closed). */
  isOpen(): boolean;
  /** Closes the connection. */
  close(reason: CloseReason, detail?: string): void;
  /** The client acknowledged server frames up to `upTo`. */
  settle(upTo: number): void;
}

/** Collaborators and limits of the established phase. */
export interface EstablishedDeps {
  router: Router;
  log: Logger;
  observer: ConnectionObserver;
  acks: OwedAckScheduler;
  /** A frame (or Noise unit) begun must be complete within this time (0 = no limit). */
  partialFrameTimeoutMs: number;
  /** When to rekey sessions whose client answers rekeys (Hello capability "rekey"). */
  rekey?: RekeyPolicy;
  /** The server's shared schedule of the rekeys' time triggers. */
  rekeySchedule: CoarseSchedule;
  /**
   * When the chunk being processed right now was read from its link
   * (`performance.now()`; NaN when not read from one, and between chunks:
   * `SessionRuntime.readAt`): a frame's routing latency counts from it.
   */
  reads: { readonly readAt: number };
}

/** Upstream processing of an established session. */
export class EstablishedPhase implements RekeySide {
  readonly #side: EstablishedSide;
  readonly #deps: EstablishedDeps;
  readonly #out: Outbound;
  readonly #transport: NoiseTransport;
  readonly #routeOptions: RouteOptions | undefined;
  readonly #connectionId: string;
  readonly #rekey: SessionRekey | null = null;
  /** The client negotiated `pad1`: every plaintext is whole frames, then padding. */
  readonly #padded: boolean;
  /** This session's own unit decoder while it holds part of a unit, else null (the shared one). */
  #units: UnitDecoder | null = null;
  /**
   * This session's own frame decoder while it holds part of a frame, else
   * null (the shared one). Payloads may be views of the decrypted units (the
   * link hands each chunk over).
   */
  #frames: FrameDecoder | null = null;
  #lastClientSequence = 0;
  #errorTokens = ERROR_BURST;
  /**
   * When the error budget was last refilled; null until the first Error (the
   * budget is full until then): a `performance.now()` stored at the start was
   * a boxed number (16 B) held for every idle session's life.
   */
  #errorRefill: number | null = null;
  #partialTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Replies waiting for their frame's copies to be durable
   * ({@link AckWhenDurable}), and the later replies queued behind them.
   * Made at the first such reply: an idle session never needs one (the
   * queue, its sink and four closures were ~0.35 KiB per idle session).
   */
  #replies: ReplyQueue | null = null;
  /**
   * Sends the owed cumulative Ack (one closure per connection for the shared
   * flush timer), made the first time the session owes one.
   */
  #sendOwedAckLater: (() => void) | null = null;

  constructor(
    side: EstablishedSide,
    deps: EstablishedDeps,
    out: Outbound,
    session: {
      transport: NoiseTransport | EpochTransport;
      cumulativeAcks: boolean;
      connectionId: string;
      /** The client answers rekeys (its transport is an EpochTransport). */
      rekey?: boolean;
      /** Plaintexts are padded (`pad1`, PROTOCOL.md §2 "Padding"). */
      padded?: boolean;
    },
  ) {
    this.#side = side;
    this.#deps = deps;
    this.#out = out;
    this.#transport = session.transport;
    this.#routeOptions = session.cumulativeAcks ? DEFER_PLAIN_ACK : undefined;
    this.#connectionId = session.connectionId;
    this.#padded = session.padded ?? false;
    const policy = deps.rekey;
    if (session.rekey && policy && (policy.afterMessages > 0 || policy.afterMs > 0)) {
      this.#rekey = new SessionRekey(
        session.transport as EpochTransport,
        policy,
        this,
        deps.rekeySchedule,
      );
    }
  }

  // ---- the rekey's side (RekeySide) ----

  /** Sends a rekey frame; it ends its Noise message (`done` is the last one under the old key). */
  sendRekey(frame: Frame): void {
    this.#send(frame);
    this.#out.seal();
  }

  /** The client's rekey message was refused: an Error frame, the session goes on. */
  refuseRekey(detail: string, about?: Frame): void {
    this.sendError("rekey", detail, about);
  }

  /** The rekey broke after the client switched keys: the session ends. */
  failRekey(detail: string, about?: Frame): void {
    this.sendError("rekey", detail, about);
    this.#side.close("protocol_error", "rekey failed");
  }

  /** Completed rekeys of this session (0 without rekeying). */
  get rekeys(): number {
    return this.#rekey?.epoch ?? 0;
  }

  /**
   * Handles upstream bytes; synchronous unless routing has to wait. Takes
   * `chunk` over: its units are decrypted in place, and frames may keep
   * views of it, so the caller must never change or reuse it.
   */
  receive(chunk: Uint8Array): void | Promise<void> {
    let units: Uint8Array[];
    try {
      units = this.#pushUnits(chunk);
    } catch (error) {
      this.sendError("decode", codecText(error));
      this.#side.close("protocol_error", "bad unit framing");
      return;
    }
    const result = this.#runUnits(units, 0, EMPTY_FRAMES, 0);
    this.#afterChunk();
    return result;
  }

  /** Units completed by `chunk`, through this session's unit decoder or the shared one. */
  #pushUnits(chunk: Uint8Array): Uint8Array[] {
    const decoder = unitDecoder(this.#units);
    let ok = false;
    try {
      const units = decoder.push(chunk);
      ok = true;
      return units;
    } finally {
      this.#units = keptUnitDecoder(decoder, ok);
    }
  }

  /** Frames completed by `plaintext`, through this session's frame decoder or the shared one. */
  #pushFrames(plaintext: Uint8Array, end: number): DecodedFrame[] {
    const decoder = frameDecoder(this.#frames);
    let ok = false;
    try {
      const frames = decoder.push(plaintext, end);
      ok = true;
      return frames;
    } finally {
      this.#frames = keptFrameDecoder(decoder, ok);
    }
  }

  /** Stops the phase's timers (the connection closed). */
  stop(): void {
    this.#stopPartialTimer();
    this.#rekey?.stop();
  }

  #stopPartialTimer(): void {
    clearTimeout(this.#partialTimer);
    this.#partialTimer = undefined;
  }

  /**
   * Sends an Error frame, counted against the outbound bound and — unless the
   * server is at fault (`unavailable`) — against the client's error budget.
   */
  sendError(code: string, detail: string, about?: FrameRef): void {
    if (!this.#side.isOpen()) return;
    if (code !== SERVER_FAULT && !this.#takeErrorToken()) {
      this.#side.close("too_many_errors");
      return;
    }
    const body: Record<string, unknown> = { error: code, detail };
    if (about) body.sequence = about.sequence;
    this.#send(controlFrame(FrameType.Error, about?.channel ?? 0, 0, body));
  }

  /** Sends a reply (Ack, Error…) unless the client left the outbound bound unread. */
  #send(frame: Frame): void {
    if (this.#out.overBound) {
      this.#side.close("slow", "outbound bound exceeded by replies");
      return;
    }
    this.#out.sendEncrypted(frame);
  }

  #takeErrorToken(): boolean {
    const now = performance.now();
    const earned = this.#errorRefill === null
      ? ERROR_BURST
      : ((now - this.#errorRefill) / 1000) * ERRORS_PER_SECOND;
    if (earned >= 1) {
      this.#errorTokens = Math.min(ERROR_BURST, this.#errorTokens + Math.floor(earned));
      this.#errorRefill = now;
    }
    if (this.#errorTokens === 0) return false;
    this.#errorTokens--;
    return true;
  }

  /** After a chunk: schedule the owed Ack; watch a frame left half-received. */
  #afterChunk(): void {
    this.#flushOwedAckSoon();
    if (this.#side.isOpen()) this.#rekey?.check();
    // A session holds a decoder of its own exactly while it holds part of a unit or frame.
    const partial = this.#units !== null || this.#frames !== null;
    if (!partial || !this.#side.isOpen()) {
      this.#stopPartialTimer();
      return;
    }
    const ms = this.#deps.partialFrameTimeoutMs;
    if (ms > 0 && this.#partialTimer === undefined) this.#armPartialTimer(ms);
  }

  /**
   * Closes the connection unless the frame begun completes within `ms`. A
   * method of its own: its closure (`this` and `ms`) made a context on every
   * chunk's {@link #afterChunk}, the whole ones included.
   */
  #armPartialTimer(ms: number): void {
    this.#partialTimer = setTimeout(() => {
      this.#partialTimer = undefined;
      this.#side.close("frame_timeout", `no complete frame within ${ms} ms`);
    }, ms);
  }

  /**
   * Decrypts `units[unit..]` and handles their frames in order, from frame
   * `next` of `frames` (the already-decoded rest of the previous unit).
   * Synchronous until a frame's routing has to wait; then continues on a promise.
   */
  #runUnits(
    units: Uint8Array[],
    unit: number,
    frames: DecodedFrame[],
    next: number,
  ): void | Promise<void> {
    while (true) {
      if (!this.#side.isOpen()) return;
      if (next < frames.length) {
        const pending = this.#sessionFrame(frames[next++]);
        if (pending !== undefined) return this.#runUnitsAfter(pending, units, unit, frames, next);
        continue;
      }
      if (unit >= units.length) return;
      const plaintext = units[unit++];
      let length: number;
      try {
        // In place: the chunk is ours (see receive), and its ciphertext is not needed after.
        // The plaintext is plaintext[0..length): no view of it.
        length = this.#transport.openInPlace(plaintext);
      } catch {
        // Without a valid tag nothing from this peer can be trusted.
        this.#side.close("protocol_error", "decrypt failure");
        return;
      }
      try {
        frames = this.#pushFrames(
          plaintext,
          this.#padded ? paddedFramesEnd(plaintext, length) : length,
        );
      } catch (error) {
        this.sendError("decode", codecText(error));
        this.#side.close("protocol_error", "frame decode error");
        return;
      }
      next = 0;
    }
  }

  /**
   * {@link #runUnits} from where it stopped, once `pending` (a frame's
   * routing) settled. A method of its own: its closure's context (the units,
   * frames and both positions) was allocated on every call of #runUnits, and
   * the loop's variables lived in it.
   */
  #runUnitsAfter(
    pending: Promise<void>,
    units: Uint8Array[],
    unit: number,
    frames: DecodedFrame[],
    next: number,
  ): Promise<void> {
    return pending.then(() => {
      const more = this.#runUnits(units, unit, frames, next);
      this.#afterChunk();
      return more;
    });
  }

  #sessionFrame(frame: DecodedFrame): void | Promise<void> {
    this.#deps.observer.frameIn?.(frame.type);
    if (frame.sequence <= this.#lastClientSequence) {
      this.sendError(
        "sequence",
        `sequence ${frame.sequence} is not above ${this.#lastClientSequence}`,
        frame,
      );
      return;
    }
    this.#lastClientSequence = frame.sequence;
    switch (frame.type) {
      case FrameType.Ack:
        return this.#settle(frame.control);
      case FrameType.Error:
        this.#deps.log.info("client error frame", { connection: this.#connectionId });
        return;
      case FrameType.KeyUpdate:
        // Session-level, never routed (PROTOCOL.md §3, "In-session rekey").
        if (isRekeyBody(frame.channel, frame.control)) {
          if (this.#rekey) return this.#rekey.receive(frame);
          this.sendError("rekey", "this session does not rekey", frame);
          return;
        }
        break;
      case FrameType.Hello:
      case FrameType.Auth:
        this.sendError("unexpected", "handshake frames are not valid after the handshake", frame);
        return;
    }
    if (frame.payload.length > MAX_ROUTABLE_PAYLOAD) {
      this.sendError(
        "too_large",
        `payload over ${MAX_ROUTABLE_PAYLOAD} bytes cannot be delivered`,
        frame,
      );
      return;
    }
    // The routing latency counts from the frame's arrival (its chunk's read): one
    // clock read per frame (~1k instructions each), not a second one here. Read
    // here, not passed along (a number argument is boxed): a frame routed after
    // an earlier one's wait, or not read from a link, finds NaN and counts from now.
    const readAt = this.#deps.reads.readAt;
    const started = readAt === readAt ? readAt : performance.now();
    let reply: RouteReply;
    try {
      reply = this.#deps.router.route(this.#side.peer, frame, frame.control, this.#routeOptions);
    } catch (error) {
      return this.#routeFailed(frame, error);
    }
    if (reply instanceof Promise) return this.#routedLater(frame, started, reply);
    // Observed here, not in #routed: a call taking `started` boxed it (a heap number per frame).
    const observer = this.#deps.observer;
    if (observer.routed !== undefined) {
      ROUTED.type = frame.type;
      ROUTED.seconds = (performance.now() - started) / 1000;
      observer.routed(ROUTED);
    }
    this.#answer(frame, reply);
  }

  /**
   * A frame held until routed (a route or reachability read, a store): the
   * next frames — this client's delivery Acks among them — wait for that
   * only, never for live copies (those come as an AckWhenDurable). A method
   * of its own: its closures' context (the frame and `started`, boxed) was
   * allocated on every call of {@link #sessionFrame}, routed at once or not.
   */
  #routedLater(
    frame: DecodedFrame,
    started: number,
    reply: Promise<Frame | null | AckWhenDurable>,
  ): Promise<void> {
    return reply.then(
      (answer) => this.#routed(frame, started, answer),
      (error) => this.#routeFailed(frame, error),
    );
  }

  #routed(frame: DecodedFrame, started: number, reply: Frame | null | AckWhenDurable): void {
    this.#observeRouted(frame, started);
    this.#answer(frame, reply);
  }

  /** Replies to a routed frame, in frame order. */
  #answer(frame: DecodedFrame, reply: Frame | null | AckWhenDurable): void {
    if (reply instanceof AckWhenDurable) {
      // Routed: the next frames go on now, only this reply waits.
      this.#replyQueue().afterDurable(frame, reply.reply, reply.durable);
    } else if (this.#replies === null || this.#replies.empty) this.#reply(frame, reply);
    else this.#replies.ready(frame, reply);
  }

  #replyQueue(): ReplyQueue {
    return this.#replies ??= new ReplyQueue(
      {
        reply: (frame, reply) => this.#reply(frame, reply),
        failed: (frame, error) => this.#routeFailed(frame, error),
        // Late replies: no chunk end follows to schedule their owed Ack.
        released: () => this.#flushOwedAckSoon(),
      },
      (error) =>
        this.#deps.log.error("reply failed", {
          connection: this.#connectionId,
          error: String(error),
        }),
    );
  }

  #observeRouted(frame: DecodedFrame, started: number): void {
    const observer = this.#deps.observer;
    if (observer.routed === undefined) return;
    ROUTED.type = frame.type;
    ROUTED.seconds = (performance.now() - started) / 1000;
    observer.routed(ROUTED);
  }

  /** Sends the reply to `frame`: its Ack, or (cumulative mode) owes it. */
  #reply(frame: FrameRef, reply: Frame | null): void {
    if (!this.#side.isOpen()) return;
    if (reply) this.#send(reply);
    else if (this.#routeOptions !== undefined) this.#out.oweAck(frame.sequence);
  }

  #routeFailed(frame: FrameRef, error: unknown): void {
    if (error instanceof RouteError) {
      this.sendError(error.code, error.message, frame);
    } else {
      this.#deps.log.error("routing failed", {
        connection: this.#connectionId,
        error: String(error),
      });
      // A dependency failed (store, presence…): retryable, a documented code.
      this.sendError("unavailable", "the server could not route this frame; retry", frame);
    }
  }

  #settle(control: unknown): void {
    const upTo = (control as { ack?: unknown } | null)?.ack;
    if (typeof upTo !== "number" || !Number.isInteger(upTo) || upTo < 0) {
      this.sendError("invalid_payload", 'ack must be {"ack": <sequence>}');
      return;
    }
    this.#side.settle(upTo);
  }

  /**
   * Schedules the owed cumulative Ack. It goes out after the current
   * event-loop turn, so the Msgs of one burst share one Ack, or earlier,
   * just before the next frame sent to this client.
   */
  #flushOwedAckSoon(): void {
    if (!this.#out.owesAck || !this.#side.isOpen()) return;
    this.#deps.acks.sendAfterThisTurn(this.#sendOwedAckLater ?? this.#owedAckSender());
  }

  /**
   * Makes the session's sender of its owed Ack (once). A method of its own:
   * the arrow's `this` made a context on every call of {@link #flushOwedAckSoon}.
   */
  #owedAckSender(): () => void {
    return this.#sendOwedAckLater = () => {
      if (!this.#side.isOpen()) return;
      if (this.#out.overBound) this.#side.close("slow", "outbound bound exceeded by replies");
      else this.#out.flushOwedAck();
    };
  }
}
