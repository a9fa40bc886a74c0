/**
 * One `/connect` connection, whatever its mode: the in-order inbound queue,
 * the handshake phase ({@link HandshakePhase}), then the established phase
 * ({@link EstablishedPhase}), with acknowledged delivery, a bounded outbound
 * side ({@link Outbound}) and one close path.
 *
 * @module
 */
import { EpochTransport } from "../crypto/mod.ts";
import {
  ACK_UPTO_CAPABILITY,
  controlFrame,
  decodeFrame,
  type Frame,
  FrameType,
  PAD1_CAPABILITY,
  type PaddingPolicy,
  REKEY_CAPABILITY,
  withAckCapabilities,
} from "../proto/mod.ts";
import type { DeliveryOrigin, Peer, PeerRegistry, Presence, Router } from "../router/mod.ts";
import type { Store } from "../storage/mod.ts";
import type { Link } from "../transport/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { MultipathHub, ServerPaths } from "../multipath/mod.ts";
import { multipathAck } from "./multipath.ts";
import { type CloseReason, FAREWELL } from "./close_reason.ts";
import { Delivery } from "./delivery.ts";
import { HandshakeError } from "./errors.ts";
import {
  type EstablishedDeps,
  EstablishedPhase,
  type EstablishedSide,
} from "./established_phase.ts";
import { type Established, type HandshakeDeps, ServerHandshake } from "./handshake.ts";
import {
  type HandshakeDriver,
  type HandshakeOutcome,
  HandshakePhase,
  MAX_HANDSHAKE_FRAME,
} from "./handshake_phase.ts";
import type { DueItem, SlotKey } from "./coarse_schedule.ts";
import type { ConnectionObserver } from "./observer.ts";
import { Outbound } from "./outbound.ts";
import type { RekeyPolicy } from "./rekey.ts";
import type { SessionRuntime } from "./runtime.ts";

export type { CloseReason } from "./close_reason.ts";
export { MAX_DELIVERABLE_FRAME } from "./established_phase.ts";

const RESOLVED: Promise<void> = Promise.resolve();
/**
 * Unprocessed upstream bytes allowed before the handshake completes: a Hello
 * and an Auth, with room for a chunk boundary. The established bound
 * (`inboundQueueBytes`) applies only to authenticated clients.
 */
export const PRE_HANDSHAKE_INBOUND_BYTES = 2 * MAX_HANDSHAKE_FRAME;

/** Settings and collaborators of a connection. */
export interface ConnectionDeps {
  handshake: HandshakeDeps;
  router: Router;
  registry: PeerRegistry;
  presence: Presence;
  store: Store;
  /** Shared per-server machinery (owed-Ack timer, refresher); the server creates one. */
  runtime: SessionRuntime;
  instanceId: string;
  handshakeTimeoutMs: number;
  outboundQueueFrames: number;
  outboundQueueBytes: number;
  /** Unprocessed upstream bytes allowed before the client is cut off. */
  inboundQueueBytes: number;
  /** A frame begun after the handshake must be complete within this time (0 = no limit). */
  partialFrameTimeoutMs: number;
  /** `server.rekey_after_messages` / `rekey_after_minutes` (absent: no rekeying). */
  rekey?: RekeyPolicy;
  /** `crypto.padding`: how sessions that negotiate `pad1` pad (absent or off: `pad1` refused). */
  padding?: PaddingPolicy;
  presenceTtlSeconds: number;
  sessionTtlSeconds: number;
  log: Logger;
  observer: ConnectionObserver;
  /** Tells other instances this device is now connected here (they drop older connections). */
  announce?: (deviceId: string, connectionId: string) => void;
  /** Multipath sessions (absent: a Hello asking for them gets an ordinary session). */
  multipath?: MultipathHub;
  /** Makes the server handshake (tests substitute one); defaults to {@link ServerHandshake}. */
  newHandshake?: (deps: HandshakeDeps) => HandshakeDriver;
}

type State = "handshake" | "established" | "closed";

/** Told that a connection is done, as a method (e.g. a direct-mode slot: no closure of its own). */
export interface DoneListener {
  connectionDone(connection: ServerConnection): void;
}

/** Told that a connection is done (see {@link ServerConnection.onDone}). */
export type DoneCallback = ((connection: ServerConnection) => void) | DoneListener;

function tell(then: DoneCallback, connection: ServerConnection): void {
  if (typeof then === "function") then(connection);
  else then.connectionDone(connection);
}

/**
 * The established phase's collaborators, made once per {@link ConnectionDeps}
 * (i.e. per server) instead of once per connection: every field comes from
 * the deps, so a copy per session was ~70 B of heap held for its life.
 */
const establishedDepsOf = new WeakMap<ConnectionDeps, EstablishedDeps>();

function establishedDeps(d: ConnectionDeps): EstablishedDeps {
  let deps = establishedDepsOf.get(d);
  if (deps === undefined) {
    deps = {
      router: d.router,
      log: d.log,
      observer: d.observer,
      acks: d.runtime.acks,
      partialFrameTimeoutMs: d.partialFrameTimeoutMs,
      rekey: d.rekey,
      rekeySchedule: d.runtime.rekeys,
      reads: d.runtime,
    };
    establishedDepsOf.set(d, deps);
  }
  return deps;
}

/**
 * A connection; feed it upstream bytes with {@link receive}. It is its
 * established phase's {@link EstablishedSide} itself: a side object with
 * four arrow functions and their context cost ~0.35 KiB per idle session.
 */
export class ServerConnection implements Peer, EstablishedSide, DueItem {
  readonly connectionId: string;
  deviceId = "";
  userId = "";
  sessionId = "";

  readonly #deps: ConnectionDeps;
  readonly #link: Link;
  readonly #out: Outbound;
  readonly #delivery: Delivery;
  #state: State = "handshake";
  #handshake: HandshakePhase | null;
  #session: EstablishedPhase | null = null;
  /** The last queued piece of inbound work, or null when the inbound side is idle. */
  #tail: Promise<void> | null = null;
  #inboundQueued = 0;
  /** The slot of the handshake deadline in the runtime's schedule (-1: none pending). */
  #handshakeSlot: SlotKey = -1;
  /**
   * `done`, made when first asked for (shutdown, a direct-mode slot): a
   * promise, its resolver and a reaction per idle connection otherwise.
   */
  #done: Promise<void> | null = null;
  #resolveDone: (() => void) | null = null;
  #finished = false;
  /**
   * What {@link onDone} registered: the first callback in a field of its own,
   * the second too (the open set's and, in direct mode, the slot's: an
   * array of two and its backing store were ~64 B per idle session), any
   * later ones in an array.
   */
  #onDone: DoneCallback | null = null;
  #onDoneSecond: DoneCallback | DoneCallback[] | null = null;
  /** The session's paths once it runs multipath (the outbound writes there). */
  #paths: ServerPaths | null = null;

  constructor(link: Link, deps: ConnectionDeps, connectionId: string) {
    this.#link = link;
    this.#deps = deps;
    this.connectionId = connectionId;
    this.#out = new Outbound(link, deps.outboundQueueBytes, deps.observer);
    const driver = (deps.newHandshake ?? ((d) => new ServerHandshake(d)))(deps.handshake);
    this.#handshake = new HandshakePhase(driver, {
      isClosed: () => this.#state === "closed",
      sendPlain: (frame) => this.#out.sendPlain(frame),
      frameIn: (type) => deps.observer.frameIn?.(type),
    });
    this.#delivery = new Delivery(this, deps);
    // Whatever is half-received, the deadline closes the link (and frees what it holds): on
    // the runtime's shared schedule, no timer and closure per connection.
    this.#handshakeSlot = deps.runtime.handshakes.add(this, deps.handshakeTimeoutMs);
    deps.observer.opened?.({ connectionId, mode: link.mode });
  }

  /** The handshake deadline passed (the runtime's schedule calls it; not for other callers). */
  due(): void {
    this.#handshakeSlot = -1;
    if (this.#state === "handshake") {
      this.#failHandshake(new HandshakeError("timeout", "handshake timed out"));
    }
  }

  /** Takes the handshake deadline off the schedule (established or closed first). */
  #dropDeadline(): void {
    if (this.#handshakeSlot < 0) return;
    this.#deps.runtime.handshakes.remove(this, this.#handshakeSlot);
    this.#handshakeSlot = -1;
  }

  /** Path status of a multipath session (null otherwise). */
  get paths(): ServerPaths | null {
    return this.#paths;
  }

  /** Resolves when the connection has closed and cleaned up. */
  get done(): Promise<void> {
    if (this.#done === null) {
      this.#done = this.#finished
        ? RESOLVED
        : new Promise((resolve) => (this.#resolveDone = resolve));
    }
    return this.#done;
  }

  /**
   * Calls `then` (or its `connectionDone`) with this connection once it is
   * done (like {@link done}, without a promise, its resolver and a reaction
   * per connection): e.g. the open-set's callback shared by every
   * connection, and a direct-mode slot. Callbacks run in the order
   * registered; none may throw.
   */
  onDone(then: DoneCallback): void {
    if (this.#finished) tell(then, this);
    else if (this.#onDone === null) this.#onDone = then;
    else if (this.#onDoneSecond === null) this.#onDoneSecond = then;
    else if (Array.isArray(this.#onDoneSecond)) this.#onDoneSecond.push(then);
    else this.#onDoneSecond = [this.#onDoneSecond, then];
  }

  /** True once established and not closed. */
  get established(): boolean {
    return this.#state === "established";
  }

  // ---- the established phase's side (EstablishedSide) ----

  /** The connection as the router knows it: itself. */
  get peer(): Peer {
    return this;
  }

  /** True while established (the phase asks before each step). */
  isOpen(): boolean {
    return this.#state === "established";
  }

  /** The client acknowledged server frames up to `upTo`. */
  settle(upTo: number): void {
    this.#delivery.settle(upTo);
  }

  /**
   * Queues upstream bytes; processing is strictly in order. The returned
   * promise settles when this chunk has been processed (HTTP modes await it
   * for backpressure; WebSocket relies on the inbound bound). The chunk is
   * handed over: it is decrypted in place and frames may keep views of it.
   */
  receive(chunk: Uint8Array): Promise<void> {
    if (this.#paths !== null) {
      // Multipath: the endpoint reassembles; in-order units come back through #receiveBytes.
      if (this.#state !== "closed") this.#paths.receivePrimary(chunk);
      return this.#tail ?? RESOLVED;
    }
    return this.#receiveBytes(chunk);
  }

  #receiveBytes(chunk: Uint8Array): Promise<void> {
    if (this.#state === "closed") return RESOLVED;
    const runtime = this.#deps.runtime;
    const readAt = performance.now();
    if (this.#tail === null) {
      // Nothing queued: process now; most chunks finish without awaiting anything.
      let pending: void | Promise<void>;
      // Restored after: an in-process link may hand a write to its reader synchronously.
      const outer = runtime.readAt;
      runtime.readAt = readAt;
      try {
        pending = this.#process(chunk);
      } catch (error) {
        this.#internalError(error);
        return RESOLVED;
      } finally {
        runtime.readAt = outer;
      }
      if (pending === undefined) return RESOLVED;
      return this.#enqueueFailing(pending);
    }
    return this.#enqueueChunk(chunk, readAt);
  }

  /**
   * Queues `chunk` (read at `readAt`) behind the chunks still being processed.
   * A method of its own: the closure it makes held `chunk` and `readAt` in a
   * context allocated on every call of {@link #receiveBytes}, the usual chunk
   * (processed at once) included.
   */
  #enqueueChunk(chunk: Uint8Array, readAt: number): Promise<void> {
    const runtime = this.#deps.runtime;
    this.#inboundQueued += chunk.length;
    const bound = this.#state === "established"
      ? this.#deps.inboundQueueBytes
      : PRE_HANDSHAKE_INBOUND_BYTES;
    if (this.#inboundQueued > bound) {
      this.close("inbound_backlog");
      return RESOLVED;
    }
    return this.#enqueueWork(this.#tail!.then(async () => {
      this.#inboundQueued -= chunk.length;
      if (this.#state === "closed") return;
      try {
        // Its route delay counts from its read, the wait behind the earlier chunks included.
        const outer = runtime.readAt;
        runtime.readAt = readAt;
        let pending: void | Promise<void>;
        try {
          pending = this.#process(chunk);
        } finally {
          runtime.readAt = outer;
        }
        await pending;
      } catch (error) {
        this.#internalError(error);
      }
    }));
  }

  /**
   * Makes a chunk's unfinished processing the tail of the inbound queue (its
   * failure an internal error). A method of its own: the arrow's `this` made
   * a context on every call of {@link #receiveBytes}.
   */
  #enqueueFailing(pending: Promise<void>): Promise<void> {
    return this.#enqueueWork(pending.catch((error) => this.#internalError(error)));
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

  /** The client closed its upstream (of a multipath session: only this path's). */
  end(): void {
    if (this.#paths !== null) this.#paths.primaryClosed();
    else this.#endSession();
  }

  /** This connection's link closed (of a multipath session: one path of several). */
  linkClosed(detail?: string): void {
    if (this.#paths !== null) this.#paths.primaryClosed();
    else this.close("client_closed", detail);
  }

  #endSession(): void {
    this.#enqueueWork((this.#tail ?? RESOLVED).then(() => this.close("client_closed")));
  }

  #process(chunk: Uint8Array): void | Promise<void> {
    if (this.#session !== null) return this.#session.receive(chunk);
    return this.#processHandshake(chunk);
  }

  async #processHandshake(chunk: Uint8Array): Promise<void> {
    const phase = this.#handshake;
    if (phase === null) return;
    let outcome: HandshakeOutcome | null;
    try {
      outcome = await phase.push(chunk);
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
    if (outcome === null || this.#state === "closed") return;
    this.#establish(outcome);
    // The client sent its first units right behind its last handshake frame.
    if (outcome.rest.length === 0) return;
    // (Multipath: the endpoint queues what it reassembles behind this work.)
    if (this.#paths !== null) this.#paths.receivePrimary(outcome.rest);
    else await this.#session?.receive(outcome.rest);
  }

  #establish(outcome: HandshakeOutcome): void {
    const established: Established = outcome.established;
    const d = this.#deps;
    this.deviceId = established.deviceId;
    this.userId = established.userId;
    this.sessionId = established.sessionId;
    const startedAt = this.#handshake?.startedAt ?? Date.now();
    this.#handshake = null;
    // A client that answers rekeys gets a transport whose keys can switch (PROTOCOL.md §3).
    const transport = outcome.rekey
      ? new EpochTransport(established.transport)
      : established.transport;
    // Padding only when the client asked for it and the operator did not turn it off (§2).
    const padding = outcome.pad1 && d.padding && d.padding.mode !== "off" ? d.padding : null;
    this.#out.encryptWith(transport, padding);
    this.#session = new EstablishedPhase(
      this,
      establishedDeps(d),
      this.#out,
      {
        transport,
        rekey: outcome.rekey,
        padded: padding !== null,
        cumulativeAcks: outcome.cumulativeAcks,
        connectionId: this.connectionId,
      },
    );
    this.#state = "established";
    d.observer.handshake?.({
      connectionId: this.connectionId,
      ok: true,
      durationMs: Date.now() - startedAt,
      deviceId: this.deviceId,
      userId: this.userId,
      sessionId: this.sessionId,
      action: established.action,
      postQuantum: established.postQuantum,
    });
    const acked = withAckCapabilities(established.ack, usedCapabilities(outcome, padding));
    const hub = outcome.multipath ? d.multipath : undefined;
    if (hub) {
      const raptorq = outcome.multipath !== false && outcome.multipath.raptorq;
      const { ack, secret } = multipathAck(acked, hub.settings, raptorq);
      this.#out.sendEncrypted(ack);
      // The Ack goes out alone on this link now; everything after it as path units.
      this.#out.flush();
      this.#paths = hub.open(this.#link, secret, transport.handshakeHash, raptorq, {
        deviceId: this.deviceId,
        deliver: (unit) => void this.#receiveBytes(unit),
        close: (detail) => this.close("protocol_error", detail),
        end: () => this.#endSession(),
      });
      // Everything after the Ack goes out on the paths (no forwarding Link per session).
      this.#out.relink(this.#paths);
    } else {
      this.#out.sendEncrypted(acked);
      // The handshake Ack is alone in the first transport message: clients
      // (the SDK before batching) read that message as the Ack and nothing else.
      this.#out.seal();
    }
    const replaced = d.registry.add(this);
    replaced?.close("replaced");
    d.announce?.(this.deviceId, this.connectionId);
    this.#dropDeadline();
    this.refreshPresence();
    d.runtime.refresher.add(this);
    void this.#delivery.drain();
  }

  // ---- delivery (Peer) ----

  deliver(frame: Frame, origin?: DeliveryOrigin): boolean {
    if (this.#state !== "established") return false;
    if (this.#delivery.full || this.#out.overBound) {
      if (origin?.fromQueue) return false; // still in the store; retried later
      this.close("slow", "outbound bound exceeded");
      return false;
    }
    // A live delivery made while its sender's chunk is processed carries that chunk's read time.
    const sequence = this.#out.sendEncrypted(
      frame,
      origin?.fromQueue ? undefined : this.#deps.runtime.readAt,
    );
    this.#delivery.track(sequence, frame, origin?.envelopeId);
    return true;
  }

  /**
   * A row just written to this device's queue (by another instance, carried
   * on the bus): delivered as that row — deleted when the device acknowledges
   * it — when the queue is caught up; otherwise, or if it cannot be taken
   * now, the queue is read as for any notice.
   */
  takeQueued(envelopeId: string, payload: Uint8Array): boolean {
    if (this.#state !== "established") return false;
    if (this.#delivery.caughtUp) {
      let frame: Frame | null = null;
      try {
        frame = decodeFrame(payload)?.frame ?? null;
      } catch { /* undecodable: the drain drops the row */ }
      if (frame && this.deliver(frame, { envelopeId, fromQueue: true })) return true;
    }
    this.checkOfflineQueue();
    return false;
  }

  /**
   * Call media is delivered only while the connection is under half its
   * outbound bounds: the rest of the bound stays for messages and replies,
   * and the SFU's own queue (dropping old audio, skipping video to a key
   * frame) absorbs the backpressure instead of closing a slow reader.
   */
  hasRoomForMedia(): boolean {
    return this.#state === "established" && this.#delivery.underHalfFull &&
      this.#out.underHalfBound;
  }

  /**
   * Call media when {@link hasRoomForMedia}: under half the bounds is under
   * the bounds, so none of {@link deliver}'s checks can refuse it.
   */
  deliverMedia(frame: Frame): boolean {
    if (!this.hasRoomForMedia()) return false;
    const sequence = this.#out.sendEncrypted(frame);
    this.#delivery.track(sequence, frame, undefined);
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

  // ---- closing ----

  #failHandshake(error: HandshakeError): void {
    if (this.#state === "closed") return;
    this.#deps.observer.handshake?.({
      connectionId: this.connectionId,
      ok: false,
      reason: error.reason,
      durationMs: Date.now() - (this.#handshake?.startedAt ?? Date.now()),
    });
    this.#out.sendPlain(controlFrame(FrameType.Error, 0, 0, {
      // Bytes that are no frame are a decode error; everything else a refused handshake.
      error: error.reason === "decode" ? "decode" : "handshake",
      detail: error.message,
      ...error.extra,
    }));
    this.close("handshake_failed", error.reason);
  }

  /** Closes the connection: unacknowledged live frames go back to the offline queue. */
  close(reason: CloseReason, detail?: string): void {
    if (this.#state === "closed") return;
    const wasEstablished = this.#state === "established";
    if (wasEstablished) {
      this.#out.flushOwedAck();
      const farewell = FAREWELL[reason];
      if (farewell) {
        this.#out.sendEncrypted(
          controlFrame(FrameType.Error, 0, 0, { error: farewell.error, detail: farewell.detail }),
        );
      }
      // This turn's batch (an Error that explains the close, the farewell) goes before the close.
      this.#out.flush();
    }
    this.#state = "closed";
    this.#dropDeadline();
    this.#session?.stop();
    this.#delivery.stop();
    this.#handshake = null;
    if (wasEstablished) this.#deps.runtime.refresher.delete(this);
    // A client that timed out may be stalled mid-message: no polite close that waits on it.
    const stalled = reason === "frame_timeout" ||
      (reason === "handshake_failed" && detail === "timeout");
    const link: Link = this.#paths ?? this.#link;
    if (stalled && link.abort) link.abort();
    else link.close();
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
      this.#finished = true;
      this.#resolveDone?.();
      this.#resolveDone = null;
      const first = this.#onDone;
      const more = this.#onDoneSecond;
      this.#onDone = null;
      this.#onDoneSecond = null;
      if (first !== null) tell(first, this);
      if (Array.isArray(more)) { for (const one of more) tell(one, this); }
      else if (more !== null) tell(more, this);
    }
  }
}

/** The Hello capabilities this session uses, as the Ack lists them (PROTOCOL.md §2). */
function usedCapabilities(outcome: HandshakeOutcome, padding: PaddingPolicy | null): string[] {
  const used: string[] = [];
  if (outcome.cumulativeAcks) used.push(ACK_UPTO_CAPABILITY);
  if (outcome.rekey) used.push(REKEY_CAPABILITY);
  if (padding !== null) used.push(PAD1_CAPABILITY);
  return used;
}
