/**
 * One `/connect` connection, whatever its mode: the handshake phase with
 * plaintext frames, then Noise units carrying CCP-1 frames, with one sequence
 * counter per direction, acknowledged delivery and a bounded outbound side.
 *
 * @module
 */
import {
  ACK_UPTO_CAPABILITY,
  type CodecError,
  controlFrame,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  encodeUnit,
  type Frame,
  FrameDecoder,
  FrameType,
  frameTypeLabel,
  isCodecError,
  UnitDecoder,
} from "../proto/mod.ts";
import type { NoiseTransport } from "../crypto/mod.ts";
import type {
  DeliveryOrigin,
  Peer,
  PeerCloseReason,
  PeerRegistry,
  Presence,
  RouteOptions,
  Router,
} from "../router/mod.ts";
import { RouteError } from "../router/mod.ts";
import type { Store } from "../storage/mod.ts";
import type { Link } from "../transport/mod.ts";
import { Delivery } from "./delivery.ts";
import { HandshakeError } from "./errors.ts";
import { type Established, type HandshakeDeps, ServerHandshake } from "./handshake.ts";
import type { Logger } from "../log/mod.ts";
import type { ConnectionObserver } from "./observer.ts";
import { encodeCumulativeAck, sendAfterThisTurn } from "./owed_acks.ts";
import { refresherOf } from "./refresher.ts";

/** Largest encoded frame one Noise message can carry (65535 − 16-byte tag). */
export const MAX_DELIVERABLE_FRAME = 65519;
/** Room the re-sequenced header may need beyond the payload. */
const HEADER_ALLOWANCE = 32;
/** Largest plaintext frame accepted during the handshake. */
const MAX_HANDSHAKE_FRAME = 64 * 1024;
const DEFER_PLAIN_ACK: RouteOptions = { deferPlainAck: true };
const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY_FRAMES: DecodedFrame[] = [];

/**
 * Why a connection closes: a {@link PeerCloseReason} given by the server, or
 * one the session finds itself.
 */
export type CloseReason =
  | PeerCloseReason
  | "client_closed"
  | "protocol_error"
  | "inbound_backlog"
  | "handshake_failed"
  | "internal_error";

/** The Error frame an established client gets before the close, by reason (PROTOCOL.md §4). */
const FAREWELL: Partial<Record<CloseReason, { error: string; detail: string }>> = {
  replaced: { error: "replaced", detail: "this device connected again elsewhere" },
  shutdown: { error: "shutdown", detail: "server is shutting down" },
};

/** Settings and collaborators of a connection. */
export interface ConnectionDeps {
  handshake: HandshakeDeps;
  router: Router;
  registry: PeerRegistry;
  presence: Presence;
  store: Store;
  instanceId: string;
  handshakeTimeoutMs: number;
  outboundQueueFrames: number;
  outboundQueueBytes: number;
  /** Unprocessed upstream bytes allowed before the client is cut off. */
  inboundQueueBytes: number;
  presenceTtlSeconds: number;
  sessionTtlSeconds: number;
  log: Logger;
  observer: ConnectionObserver;
  /** Tells other instances this device is now connected here (they drop older connections). */
  announce?: (deviceId: string, connectionId: string) => void;
}

type State = "hello" | "auth" | "established" | "closed";

/** A connection; feed it upstream bytes with {@link receive}. */
export class ServerConnection implements Peer {
  readonly connectionId: string;
  deviceId = "";
  userId = "";
  sessionId = "";
  /** Resolves when the connection has closed and cleaned up. */
  readonly done: Promise<void>;

  #deps: ConnectionDeps;
  #link: Link;
  #state: State = "hello";
  /** The handshake in progress; dropped once the session is established. */
  #handshake: ServerHandshake | null;
  #startedAt = Date.now();
  #handshakeBuf = new Uint8Array(0);
  #units = new UnitDecoder();
  #frames = new FrameDecoder();
  #transport: NoiseTransport | null = null;
  #sendSequence = 0;
  #lastClientSequence = 0;
  readonly #delivery: Delivery;
  /** The last queued piece of inbound work, or null when the inbound side is idle. */
  #tail: Promise<void> | null = null;
  #inboundQueued = 0;
  /** Set when the client asked for cumulative Acks (Hello capability "ack-upto"). */
  #routeOptions: RouteOptions | undefined;
  /** Highest client sequence routed but not acknowledged yet (cumulative mode), else 0. */
  #owedAck = 0;
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends the owed cumulative Ack; one closure per connection for the shared flush timer. */
  readonly #sendOwedAckLater = () => this.#sendOwedAck();
  #resolveDone!: () => void;

  constructor(link: Link, deps: ConnectionDeps, connectionId: string) {
    this.#link = link;
    this.#deps = deps;
    this.connectionId = connectionId;
    this.#handshake = new ServerHandshake(deps.handshake);
    this.#delivery = new Delivery(this, deps);
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#handshakeTimer = setTimeout(() => {
      if (this.#state === "hello" || this.#state === "auth") {
        this.#failHandshake(new HandshakeError("timeout", "handshake timed out"));
      }
    }, deps.handshakeTimeoutMs);
    deps.observer.opened?.({ connectionId, mode: link.mode });
  }

  /** True once established and not closed. */
  get established(): boolean {
    return this.#state === "established";
  }

  /**
   * Queues upstream bytes; processing is strictly in order. The returned
   * promise settles when this chunk has been processed (HTTP modes await it
   * for backpressure; WebSocket relies on the inbound bound).
   */
  receive(chunk: Uint8Array): Promise<void> {
    if (this.#state === "closed") return RESOLVED;
    if (this.#tail === null) {
      // Nothing queued: process now; most chunks finish without awaiting anything.
      let pending: void | Promise<void>;
      try {
        pending = this.#process(chunk);
      } catch (error) {
        this.#internalError(error);
        return RESOLVED;
      }
      if (pending === undefined) return RESOLVED;
      return this.#enqueueWork(pending.catch((error) => this.#internalError(error)));
    }
    this.#inboundQueued += chunk.length;
    if (this.#inboundQueued > this.#deps.inboundQueueBytes) {
      this.close("inbound_backlog");
      return RESOLVED;
    }
    return this.#enqueueWork(this.#tail.then(async () => {
      this.#inboundQueued -= chunk.length;
      if (this.#state === "closed") return;
      try {
        await this.#process(chunk);
      } catch (error) {
        this.#internalError(error);
      }
    }));
  }

  /** Makes `work` the tail of the inbound queue; the queue is idle again once it settles last. */
  #enqueueWork(work: Promise<void>): Promise<void> {
    this.#tail = work;
    const idle = () => {
      if (this.#tail === work) this.#tail = null;
    };
    // Both ways: a rejected `work` must not become an unhandled rejection here.
    work.then(idle, idle);
    return work;
  }

  #internalError(error: unknown): void {
    this.#deps.log.error("connection failed", {
      connection: this.connectionId,
      error: String(error),
    });
    this.close("internal_error");
  }

  /** The client closed its upstream. */
  end(): void {
    this.#enqueueWork((this.#tail ?? RESOLVED).then(() => this.close("client_closed")));
  }

  #process(chunk: Uint8Array): void | Promise<void> {
    if (this.#state === "established") return this.#processUnits(chunk);
    return this.#processHandshake(chunk);
  }

  async #processHandshake(chunk: Uint8Array): Promise<void> {
    let buf = concat(this.#handshakeBuf, chunk);
    while (buf.length > 0 && (this.#state === "hello" || this.#state === "auth")) {
      let decoded: { frame: DecodedFrame; consumed: number } | null;
      try {
        decoded = decodeFrame(buf, { maxFrameLength: MAX_HANDSHAKE_FRAME });
      } catch (error) {
        this.#failHandshake(new HandshakeError("decode", codecText(error)), "decode");
        return;
      }
      if (!decoded) break;
      buf = buf.subarray(decoded.consumed);
      this.#deps.observer.frameIn?.(decoded.frame.type);
      try {
        await this.#handshakeFrame(decoded.frame);
      } catch (error) {
        if (error instanceof HandshakeError) {
          this.#failHandshake(error);
          return;
        }
        // A dependency failed (e.g. the store): the client still gets an Error frame.
        this.#deps.log.error("handshake failed", {
          connection: this.connectionId,
          error: String(error),
        });
        this.#failHandshake(
          new HandshakeError("unavailable", "the server is unavailable, try again later"),
        );
        return;
      }
    }
    this.#handshakeBuf = buf.length > 0 ? buf.slice() : new Uint8Array(0);
    if ((this.#state as State) === "established" && this.#handshakeBuf.length > 0) {
      // The client sent its first units right behind its last handshake frame.
      const rest = this.#handshakeBuf;
      this.#handshakeBuf = new Uint8Array(0);
      await this.#processUnits(rest);
    }
  }

  async #handshakeFrame(frame: DecodedFrame): Promise<void> {
    if (this.#state === "hello") {
      if (frame.type !== FrameType.Hello) {
        throw new HandshakeError(
          "unexpected_frame",
          `expected hello, got ${frameTypeLabel(frame.type)}`,
        );
      }
      const capabilities = (frame.control as { capabilities?: unknown } | null)?.capabilities;
      if (Array.isArray(capabilities) && capabilities.includes(ACK_UPTO_CAPABILITY)) {
        this.#routeOptions = DEFER_PLAIN_ACK;
      }
      const auth = await this.#handshake!.hello(frame);
      // The handshake timeout may have closed us while the store answered.
      if ((this.#state as State) === "closed") return;
      this.#sendPlain(auth);
      if (this.#handshake!.awaitingAuth) {
        this.#state = "auth";
        return;
      }
    } else {
      if (frame.type !== FrameType.Auth) {
        throw new HandshakeError(
          "unexpected_frame",
          `expected auth, got ${frameTypeLabel(frame.type)}`,
        );
      }
      this.#handshake!.auth(frame);
    }
    const established = await this.#handshake!.commit();
    this.#handshake = null;
    if (this.#state === "closed") return;
    this.#establish(established);
  }

  #establish(established: Established): void {
    this.deviceId = established.deviceId;
    this.userId = established.userId;
    this.sessionId = established.sessionId;
    this.#transport = established.transport;
    this.#state = "established";
    this.#deps.observer.handshake?.({
      connectionId: this.connectionId,
      ok: true,
      durationMs: Date.now() - this.#startedAt,
      deviceId: this.deviceId,
      userId: this.userId,
      sessionId: this.sessionId,
      action: established.action,
    });
    this.#sendEncrypted(established.ack);
    const replaced = this.#deps.registry.add(this);
    replaced?.close("replaced");
    this.#deps.announce?.(this.deviceId, this.connectionId);
    clearTimeout(this.#handshakeTimer);
    this.refreshPresence();
    refresherOf(this.#deps).add(this);
    void this.#delivery.drain();
  }

  #processUnits(chunk: Uint8Array): void | Promise<void> {
    let units: Uint8Array[];
    try {
      units = this.#units.push(chunk);
    } catch (error) {
      this.#sendError("decode", codecText(error));
      this.close("protocol_error", "bad unit framing");
      return;
    }
    const result = this.#runUnits(units, 0, EMPTY_FRAMES, 0);
    this.#flushOwedAckSoon();
    return result;
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
      if (this.#state !== "established") return;
      if (next < frames.length) {
        const pending = this.#sessionFrame(frames[next++]);
        if (pending !== undefined) {
          return pending.then(() => {
            const more = this.#runUnits(units, unit, frames, next);
            this.#flushOwedAckSoon();
            return more;
          });
        }
        continue;
      }
      if (unit >= units.length) return;
      let plaintext: Uint8Array;
      try {
        plaintext = this.#transport!.decrypt(units[unit++]);
      } catch {
        // Without a valid tag nothing from this peer can be trusted.
        this.close("protocol_error", "decrypt failure");
        return;
      }
      try {
        frames = this.#frames.push(plaintext);
      } catch (error) {
        this.#sendError("decode", codecText(error));
        this.close("protocol_error", "frame decode error");
        return;
      }
      next = 0;
    }
  }

  #sessionFrame(frame: DecodedFrame): void | Promise<void> {
    this.#deps.observer.frameIn?.(frame.type);
    if (frame.sequence <= this.#lastClientSequence) {
      this.#sendError(
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
        this.#deps.log.info("client error frame", { connection: this.connectionId });
        return;
      case FrameType.Hello:
      case FrameType.Auth:
        this.#sendError("unexpected", "handshake frames are not valid after the handshake", frame);
        return;
    }
    if (frame.payload.length + HEADER_ALLOWANCE > MAX_DELIVERABLE_FRAME) {
      this.#sendError(
        "too_large",
        `payload over ${MAX_DELIVERABLE_FRAME - HEADER_ALLOWANCE} bytes cannot be delivered`,
        frame,
      );
      return;
    }
    const started = performance.now();
    let reply: Frame | null | Promise<Frame | null>;
    try {
      reply = this.#deps.router.route(this, frame, frame.control, this.#routeOptions);
    } catch (error) {
      return this.#routeFailed(frame, error);
    }
    if (reply instanceof Promise) {
      return reply.then(
        (answer) => this.#routed(frame, started, answer),
        (error) => this.#routeFailed(frame, error),
      );
    }
    this.#routed(frame, started, reply);
  }

  #routed(frame: DecodedFrame, started: number, reply: Frame | null): void {
    this.#deps.observer.routed?.({
      type: frame.type,
      seconds: (performance.now() - started) / 1000,
    });
    if (reply) this.#sendEncrypted(reply);
    else if (this.#routeOptions !== undefined) this.#owedAck = frame.sequence;
  }

  #routeFailed(frame: DecodedFrame, error: unknown): void {
    if (error instanceof RouteError) {
      this.#sendError(error.code, error.message, frame);
    } else {
      this.#deps.log.error("routing failed", {
        connection: this.connectionId,
        error: String(error),
      });
      // A dependency failed (store, presence…): retryable, a documented code.
      this.#sendError("unavailable", "the server could not route this frame; retry", frame);
    }
  }

  // ---- cumulative acks (capability "ack-upto") ----

  /**
   * Schedules the owed cumulative Ack. It goes out after the current
   * event-loop turn, so the Msgs of one burst share one Ack, or earlier,
   * just before the next frame sent to this client.
   */
  #flushOwedAckSoon(): void {
    if (this.#owedAck === 0 || this.#state !== "established") return;
    sendAfterThisTurn(this.#sendOwedAckLater);
  }

  #sendOwedAck(): void {
    if (this.#state !== "established") return;
    const owed = this.#takeOwedAck();
    if (owed !== null) this.#sendUnit(owed);
  }

  /** The encoded cumulative Ack owed to the client, or null; clears the debt. */
  #takeOwedAck(): Uint8Array | null {
    if (this.#owedAck === 0) return null;
    const upTo = this.#owedAck;
    this.#owedAck = 0;
    return encodeCumulativeAck(upTo, this.#nextSequence());
  }

  // ---- delivery (Peer) ----

  deliver(frame: Frame, origin?: DeliveryOrigin): boolean {
    if (this.#state !== "established") return false;
    if (
      this.#delivery.full ||
      this.#link.backlogBytes >= this.#deps.outboundQueueBytes
    ) {
      if (origin?.envelopeId) return false; // still in the store; retried later
      this.close("slow", "outbound bound exceeded");
      return false;
    }
    const sequence = this.#sendEncrypted(frame);
    this.#delivery.track(sequence, frame, origin?.envelopeId);
    return true;
  }

  /** Publishes this device as online here (again: e.g. after the presence store lost its data). */
  refreshPresence(): void {
    if (this.#state !== "established") return;
    const d = this.#deps;
    d.presence.set(this.deviceId, "online", d.instanceId, d.presenceTtlSeconds).catch(() => {});
  }

  /** Extends the session row: sessions stay valid while the device stays connected (upstream bug 15). */
  refreshSession(): void {
    if (this.#state !== "established") return;
    const d = this.#deps;
    d.store.putSession({
      sessionId: this.sessionId,
      userId: this.userId,
      deviceId: this.deviceId,
      tlsFingerprint: "",
      createdAt: new Date(),
      ttlSeconds: d.sessionTtlSeconds,
    }).catch(() => {});
  }

  checkOfflineQueue(): void {
    if (this.#state === "established") void this.#delivery.drain();
  }

  #settle(control: unknown): void {
    const upTo = (control as { ack?: unknown } | null)?.ack;
    if (typeof upTo !== "number" || !Number.isInteger(upTo) || upTo < 0) {
      this.#sendError("invalid_payload", 'ack must be {"ack": <sequence>}');
      return;
    }
    this.#delivery.settle(upTo);
  }

  // ---- output ----

  #nextSequence(): number {
    this.#sendSequence = this.#sendSequence >= 0xffffffff ? 1 : this.#sendSequence + 1;
    return this.#sendSequence;
  }

  #sendPlain(frame: Frame): void {
    const sequence = this.#nextSequence();
    this.#link.send(encodeFrame({ ...frame, sequence }), {
      channel: frame.channel,
      sequence,
      type: frameTypeLabel(frame.type),
    });
    this.#deps.observer.frameOut?.(frame.type);
  }

  #sendEncrypted(frame: Frame): number {
    const owed = this.#takeOwedAck();
    const sequence = this.#nextSequence();
    const encoded = encodeFrame({ ...frame, sequence });
    // Every server transport message carries exactly one frame (PROTOCOL.md §2):
    // an owed cumulative Ack goes first, in its own message.
    if (owed !== null) this.#sendUnit(owed);
    this.#sendUnit(encoded);
    this.#deps.observer.frameOut?.(frame.type);
    return sequence;
  }

  #sendUnit(plaintext: Uint8Array): void {
    this.#link.send(encodeUnit(this.#transport!.encrypt(plaintext)), null);
  }

  #sendError(code: string, detail: string, about?: Frame): void {
    const body: Record<string, unknown> = { error: code, detail };
    if (about) body.sequence = about.sequence;
    const frame = controlFrame(FrameType.Error, about?.channel ?? 0, 0, body);
    if (this.#state === "established") this.#sendEncrypted(frame);
    else if (this.#state !== "closed") this.#sendPlain(frame);
  }

  #failHandshake(error: HandshakeError, kind: "handshake" | "decode" = "handshake"): void {
    if (this.#state === "closed") return;
    this.#deps.observer.handshake?.({
      connectionId: this.connectionId,
      ok: false,
      reason: error.reason,
      durationMs: Date.now() - this.#startedAt,
    });
    this.#sendPlain(controlFrame(FrameType.Error, 0, 0, {
      error: kind,
      detail: error.message,
      ...error.extra,
    }));
    this.close("handshake_failed", error.reason);
  }

  /** Closes the connection: unacknowledged live frames go back to the offline queue. */
  close(reason: CloseReason, detail?: string): void {
    if (this.#state === "closed") return;
    const wasEstablished = this.#state === "established";
    if (wasEstablished) this.#sendOwedAck();
    const farewell = FAREWELL[reason];
    if (wasEstablished && farewell) this.#sendError(farewell.error, farewell.detail);
    this.#state = "closed";
    clearTimeout(this.#handshakeTimer);
    this.#delivery.stop();
    this.#handshake = null;
    if (wasEstablished) refresherOf(this.#deps).delete(this);
    this.#link.close();
    this.#deps.observer.closed?.({
      connectionId: this.connectionId,
      mode: this.#link.mode,
      established: wasEstablished,
      reason: detail === undefined ? reason : `${reason}: ${detail}`,
    });
    void this.#cleanup(wasEstablished);
  }

  async #cleanup(wasEstablished: boolean): Promise<void> {
    try {
      if (!wasEstablished) return;
      const d = this.#deps;
      // Requeue before the first await, i.e. still inside close(): from then on
      // the router queues new frames for this device, and those must come after
      // these (the store takes writes in call order) or the device sees them
      // out of order.
      const requeued = this.#delivery.requeueUnacked();
      const stillMine = d.registry.remove(this);
      await Promise.all(requeued);
      if (stillMine) await d.presence.clear(this.deviceId, d.instanceId).catch(() => {});
      // A frame being routed when we closed may still be writing to the store:
      // `done` must mean nothing of ours touches it any more (shutdown closes it next).
      await this.#tail?.catch(() => {});
    } catch (error) {
      // Runs detached from close(): a throw here would be an unhandled rejection.
      this.#deps.log.error("connection cleanup failed", {
        connection: this.connectionId,
        error: String(error),
      });
    } finally {
      this.#resolveDone();
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function codecText(error: unknown): string {
  if (isCodecError(error)) return (error as CodecError).message;
  return error instanceof Error ? error.message : String(error);
}
