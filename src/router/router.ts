/**
 * Routing of established-session frames between devices (upstream §6.3,
 * with the authorization fixes of docs/PROTOCOL.md): a table of handlers by
 * frame type, the fan-out of a frame to a route's members (live where
 * connected, into the offline queue otherwise, to federation for members of
 * other domains) and delivery to one device.
 *
 * A new capability (calls through an SFU, multipath…) plugs in with
 * {@link Router.handle}: it registers the handler of its frame types and uses
 * the router's {@link Router.routes}, {@link Router.broadcast} and
 * {@link Router.deliverTo}; the router itself does not change.
 *
 * @module
 */
import {
  encodeBase64,
  encodeFrame,
  type Frame,
  type FrameType,
  isQueuedFrameType,
} from "../proto/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { RouteRecord, Store } from "../storage/mod.ts";
import type { AccessPolicy } from "./access.ts";
import type { Bus } from "./bus.ts";
import { RouteError } from "./errors.ts";
import { FrameArena } from "./frame_arena.ts";
import { builtInHandlers } from "./handlers.ts";
import {
  Durability,
  type EncodedPlace,
  encodeForCopies,
  type LazyEncodedFrame,
} from "./kept_copies.ts";
import type { OfflineQueue } from "./offline_queue.ts";
import type { Peer } from "./peer.ts";
import type { Presence } from "./presence.ts";
import type { PeerRegistry } from "./registry.ts";
import { ReachCache } from "./reach_cache.ts";
import { checkMember, RouteTable } from "./routes.ts";

/** Dependencies of the router. */
export interface RouterOptions {
  store: Store;
  registry: PeerRegistry;
  presence: Presence;
  access: AccessPolicy;
  /** Reaches devices connected to other instances. */
  bus: Bus;
  /** Where frames for members that are not connected wait. */
  offlineQueue: OfflineQueue;
  instanceId: string;
  presenceTtlSeconds: number;
  newId: (context: string) => string;
  now?: () => number;
  /** Members on other domains (`device@b.example`): their frames go to federation. */
  remote?: RemoteRelay;
  /** Routes kept in memory (default 65 536); the oldest cached go first. */
  maxCachedRoutes?: number;
  /** Where the router reports trouble it survives (lost bus notices…). */
  log?: Logger;
}

/** Relays frames to route members that live on another domain. */
export interface RemoteRelay {
  /** True when the route member `member` names a device of another domain. */
  isRemote(member: string): boolean;
  /** Stores `frame` durably for delivery to the remote `members`. */
  relay(fromDevice: string, members: string[], frame: Frame): Promise<void>;
}

/** How the caller wants {@link Router.route} to answer. */
export interface RouteOptions {
  /** Return null instead of the plain Ack of a broadcast; the caller acks cumulatively. */
  deferPlainAck?: boolean;
}

/** Counters the router keeps for metrics. */
export interface RouterStats {
  routed: number;
  deliveredLive: number;
  /** Offline-queue notices from the bus whose carried row was delivered as it came. */
  busCarriedDelivered: number;
  /** Offline-queue notices from the bus that made the holder read the queue instead. */
  busQueueReads: number;
}

/**
 * The sender of a frame: a device authenticated by a session on this server
 * (federation never routes through {@link Router.route}).
 */
export type Sender = Pick<Peer, "deviceId" | "userId" | "connectionId">;

/** One frame for a {@link FrameHandler}. */
export interface FrameRequest {
  sender: Sender;
  frame: Frame;
  /** The frame's parsed control JSON (undefined for opaque types). */
  control: unknown;
  options?: RouteOptions;
}

/**
 * A frame routed at once whose reply waits for its copies to be durable:
 * the session goes on with the next frames, and sends `reply` (or owes its
 * cumulative Ack) once `durable` resolves; if it rejects ({@link RouteError}
 * `unavailable`), the sender gets that Error instead.
 */
export class AckWhenDurable {
  constructor(readonly reply: Frame | null, readonly durable: Promise<void>) {}
}

/**
 * What {@link Router.route} and a {@link FrameHandler} answer. A promise
 * holds the session's next frames back until it settles, so it must settle
 * once the frame is routed, never on the durability of live copies: those
 * it answers with an {@link AckWhenDurable}. (Holding the session on them
 * held its delivery Acks too: two members whose first frames crossed each
 * waited for the other's Ack until the durable-copy sweep wrote both copies.)
 */
export type RouteReply =
  | Frame
  | null
  | AckWhenDurable
  | Promise<Frame | null | AckWhenDurable>;

/** The reply once everything it waits for is done, durable copies included (tests, tools). */
export async function replyWhenDone(reply: RouteReply): Promise<Frame | null> {
  const answer = await reply;
  if (answer instanceof AckWhenDurable) {
    await answer.durable;
    return answer.reply;
  }
  return answer;
}

/**
 * The reply to a frame once `out`'s stores and relays are done: the plain
 * `reply`, or (when live copies are still held) an {@link AckWhenDurable}
 * — so nobody holds the session's next frames on those copies.
 */
export function replyOnceRouted<R extends Frame | null>(
  out: FanOut,
  reply: R,
): R | AckWhenDurable | Promise<R | AckWhenDurable> {
  const durable = out.durable;
  const answer = durable === null ? reply : new AckWhenDurable(reply, durable);
  return out.pending === null ? answer : out.pending.then(() => answer);
}

/**
 * Handles the frames of one type: returns the sender's reply (an Ack) or
 * null when none is due; throws {@link RouteError} to refuse the frame. A
 * promise holds the session's next frames back until it settles; completing
 * synchronously (or with {@link AckWhenDurable}) keeps the hot path cheap.
 */
export type FrameHandler = (request: FrameRequest) => RouteReply;

/** What a fan-out left to do. */
export interface FanOut {
  /**
   * Reachability reads, stores and relays for members not reached live
   * (wait before the next frame). Never the copies of live deliveries.
   */
  pending: Promise<void> | null;
  /**
   * The copies kept for members reached live, acknowledged or written (only
   * the Ack waits). Rejects after `pending` did, when it did.
   */
  durable: Promise<void> | null;
}

const DONE: FanOut = Object.freeze({ pending: null, durable: null });
const EMPTY = new Uint8Array(0);

/** Routes frames of established sessions. */
export class Router {
  readonly stats: RouterStats = {
    routed: 0,
    deliveredLive: 0,
    busCarriedDelivered: 0,
    busQueueReads: 0,
  };
  /** The channel routes (persisted, cached, announced to other instances). */
  readonly routes: RouteTable;
  /** Where frames for devices that are not connected wait. */
  readonly offlineQueue: OfflineQueue;
  readonly #o: RouterOptions;
  readonly #handlers = new Map<number, FrameHandler>();
  readonly #reach: ReachCache;
  /** Chunks for the kept copies of small frames (frame_arena.ts). */
  readonly #keptArena = new FrameArena();
  /** Where the frame being fanned out is encoded for its copies (reused: no object per frame). */
  readonly #encoded: EncodedPlace = { bytes: EMPTY, at: -1, length: 0 };

  constructor(options: RouterOptions) {
    this.#o = options;
    this.offlineQueue = options.offlineQueue;
    this.#reach = new ReachCache({ now: options.now });
    this.routes = new RouteTable({
      store: options.store,
      bus: options.bus,
      instanceId: options.instanceId,
      maxCached: options.maxCachedRoutes,
      onAnnounceFailed: (error) =>
        options.log?.warn("route change not announced", { error: String(error) }),
    });
    for (const [type, handler] of builtInHandlers(this, options)) this.handle(type, handler);
  }

  /** Makes `handler` the handler of frames of `type` (replacing any before it). */
  handle(type: FrameType, handler: FrameHandler): void {
    this.#handlers.set(type, handler);
  }

  /** Routes cached in memory now (bounded: clients pick channel ids freely). */
  get cachedRoutes(): number {
    return this.routes.cachedCount;
  }

  /**
   * Handles one frame from `sender`; returns the reply (an Ack) for the
   * sender, or null when none is due. Throws {@link RouteError} for a
   * rejected frame (the caller turns it into an Error frame), synchronously
   * or through the returned promise.
   *
   * A broadcast of a live-only type (typing, media) on a cached route to
   * connected members completes synchronously (no promise). A queued type
   * (Msg…) resolves once its copies are durable: written with the other
   * copies of this event-loop turn (see {@link OfflineQueue.keep}).
   * With `deferPlainAck`, a broadcast returns null instead of its plain
   * `{"ack": n}`: the caller acknowledges it cumulatively (PROTOCOL.md §4).
   */
  route(
    sender: Sender,
    frame: Frame,
    control: unknown,
    options?: RouteOptions,
  ): RouteReply {
    // The sender authenticated here, so it is a local device: an id in
    // another domain's form would let it pass for that domain's device in
    // routes and groups (route members are matched by id). Where a device
    // authenticated decides what it is, never the form of its id.
    if (this.isRemote(sender.deviceId)) {
      throw new RouteError(
        "forbidden",
        "a device connected to this server cannot use another domain's device id",
      );
    }
    const handler = this.#handlers.get(frame.type);
    if (handler === undefined) {
      throw new RouteError("unsupported", `frame type ${frame.type} is not routed`);
    }
    return handler({ sender, frame, control, options });
  }

  /** True when the route member `member` is a device of another domain. */
  isRemote(member: string): boolean {
    return this.#o.remote?.isRemote(member) ?? false;
  }

  /**
   * The route of `channel` when `sender` is one of its members; throws
   * {@link RouteError} `no_route` or `not_member` otherwise.
   */
  async memberRoute(sender: Sender, channel: number): Promise<RouteRecord> {
    const route = await this.routes.get(channel);
    checkMember(sender, channel, route);
    return route!;
  }

  /**
   * Sends `frame` to every member of `route` except the sender `from`: live
   * where connected, into the offline queue otherwise (for queued types), to
   * federation for members of other domains. Resolves once every offline
   * copy is stored.
   */
  async broadcast(from: Sender, route: RouteRecord, frame: Frame): Promise<void> {
    const out = this.broadcastNow(from, route, frame);
    await out.pending;
    await out.durable;
  }

  /**
   * {@link broadcast}, synchronous as far as it can be: what is left to wait
   * for, split so that a session can route its next frames while only its
   * Ack waits for the copies of live deliveries ({@link AckWhenDurable}).
   */
  broadcastNow(from: Sender, route: RouteRecord, frame: Frame): FanOut {
    this.stats.routed++;
    if (route.groupId !== null) return this.#fanOut(from, route.members, frame, from.userId);
    // A route not bound to a group holds only while its members may reach
    // each other: an unfriending stops delivery between the two at once.
    const members = this.#reachable(from, route.members);
    if (!(members instanceof Promise)) return this.#fanOut(from, members, frame, from.userId);
    return this.#fanOutLater(from, members, frame);
  }

  /**
   * {@link broadcastNow} after a reachability read (a new route, or the
   * decision expired): only the fan-out is pending; its live copies'
   * durability is the Ack's alone, as on the synchronous path. A method of
   * its own, as are the other waits below: a closure's captured variables
   * were allocated in a context on every call, the synchronous ones included.
   */
  #fanOutLater(from: Sender, members: Promise<string[]>, frame: Frame): FanOut {
    const later = members.then((reachable) => this.#fanOut(from, reachable, frame, from.userId));
    const pending = later.then((out) => out.pending) as Promise<void>;
    const durable = later.then((out) => out.durable) as Promise<void>;
    // Handled here: whoever awaits it still sees the rejection (after
    // `pending`'s, which a caller awaits first and may then stop).
    durable.catch(() => {});
    return { pending, durable };
  }

  /**
   * Forgets the reachability decisions kept for routes (a friendship ended:
   * PROTOCOL.md "Reachability"). Other instances are told through the bus.
   */
  forgetReachability(): void {
    this.#reach.clear();
  }

  /** The members `from` may reach now; synchronous when every decision is cached. */
  #reachable(from: Sender, members: readonly string[]): readonly string[] | Promise<string[]> {
    let unknown: string[] | null = null;
    // Indexed: an iterator per routed frame, for a route's two members.
    for (let i = 0; i < members.length; i++) {
      const member = members[i];
      if (member !== from.deviceId && !this.#reach.has(from.userId, member)) {
        (unknown ??= []).push(member);
      }
    }
    if (unknown === null) return members;
    return this.#readReachability(from, members, unknown);
  }

  /** {@link #reachable} of the `unknown` members: read, and kept when they may be reached. */
  async #readReachability(
    from: Sender,
    members: readonly string[],
    unknown: string[],
  ): Promise<string[]> {
    const refused = new Set<string>();
    for (const member of unknown) {
      let ok = false;
      try {
        ok = await this.#o.access.mayReach(from, member);
      } catch (error) {
        throw new RouteError("unavailable", `could not check reachability: ${errorText(error)}`);
      }
      if (ok) this.#reach.add(from.userId, member);
      else refused.add(member);
    }
    return members.filter((m) => !refused.has(m));
  }

  /**
   * Delivers a frame to one device of this server: live when connected (here
   * or on another instance), else into its offline queue (queued types;
   * live-only types are dropped). `senderUser` names the user it comes from
   * (e.g. `alice@b.example` for a frame a federation peer relayed in), for
   * the sender's offline-queue quota; omitted for the server's own notices.
   */
  async deliverTo(deviceId: string, frame: Frame, senderUser = ""): Promise<void> {
    const out = this.#fanOut(null, [deviceId], frame, senderUser);
    await out.pending;
    await out.durable;
  }

  /** Forgets cached routes (another instance changed them). */
  invalidateRoute(channel?: number): void {
    this.routes.invalidate(channel);
  }

  /**
   * The fan-out: with a route sender `from`, members of other domains go to
   * federation; without one (a frame for one local device), none are remote.
   */
  #fanOut(
    from: Sender | null,
    members: readonly string[],
    frame: Frame,
    senderUser: string,
  ): FanOut {
    const queued = isQueuedFrameType(frame.type);
    const fromDevice = from?.deviceId;
    let notLocal: string[] | null = null;
    let liveOnly: string[] | null = null;
    let remote: string[] | null = null;
    let kept = false;
    // Where the frame is encoded for its copies: locals, as a delivery may
    // run another fan-out (a close's notices) that reuses the place.
    let bytes: Uint8Array | LazyEncodedFrame = EMPTY, at = -1, length = 0;
    for (let i = 0; i < members.length; i++) {
      const member = members[i];
      if (member === fromDevice) continue;
      if (from !== null && this.isRemote(member)) {
        if (queued) (remote ??= []).push(member); // live-only types stay on this domain
        continue;
      }
      const peer = this.#o.registry.get(member);
      if (peer === undefined) {
        if (queued) (notLocal ??= []).push(member);
        else (liveOnly ??= []).push(member);
      } else if (queued) {
        // Live, and kept in the offline queue until the device acknowledges
        // it: the sender's Ack waits for that copy to be written.
        // Small: encoded into the arena now, so the copy holds no decoded
        // frame or received buffer; larger: encoded only if it is written.
        if (!kept) {
          const place = this.#encoded;
          encodeForCopies(frame, this.#keptArena, place);
          bytes = place.bytes;
          at = place.at;
          length = place.length;
          kept = true;
        }
        const envelopeId = this.offlineQueue.keep(member, bytes, peer.connectionId, at, length);
        if (peer.deliver(frame, { envelopeId })) this.stats.deliveredLive++;
        // Else the kept copy is its queued copy: the device is told once it is written.
        else this.offlineQueue.undelivered(envelopeId);
      } else if (peer.deliver(frame)) {
        this.stats.deliveredLive++;
      } // else a live-only frame for a device that cannot take it: dropped, as nobody read it
    }
    const durable = kept ? this.offlineQueue.written() : null;
    if (notLocal === null && liveOnly === null && remote === null) {
      return durable === null ? DONE : { pending: null, durable };
    }
    if (liveOnly === null && remote === null) {
      // Only stores (a member offline, or connected to another instance: the
      // row is written, then its holder told): the sender's next frames go on
      // while only this Ack waits, so a session keeps several frames in the
      // write batch instead of one round trip of store and bus per frame.
      // The offline queue stores enqueues in call order.
      const stored = this.offlineQueue.enqueue(notLocal!, frame, senderUser);
      // Handled: whoever waits for `durable` sees the failure. (A Durability
      // — every copy carried to another instance — needs no handler, and a
      // promise made here would cost one per frame.)
      if (!(stored instanceof Durability)) stored.catch(() => {});
      return {
        pending: null,
        durable: durable === null ? stored : Promise.all([durable, stored]).then(() => {}),
      };
    }
    const rest = notLocal === null && liveOnly === null
      ? Promise.resolve()
      : this.#fanOutRest(notLocal, liveOnly, frame, senderUser);
    const pending = remote === null ? rest : this.#relayAfter(rest, fromDevice!, remote, frame);
    return { pending, durable };
  }

  /** {@link #relayRemote} once `rest` is done (a method: see {@link #fanOutLater}). */
  #relayAfter(
    rest: Promise<void>,
    fromDevice: string,
    members: string[],
    frame: Frame,
  ): Promise<void> {
    return rest.then(() => this.#relayRemote(fromDevice, members, frame));
  }

  /** Frames for members on other domains go to federation, durably. */
  async #relayRemote(fromDevice: string, members: string[], frame: Frame): Promise<void> {
    try {
      await this.#o.remote!.relay(fromDevice, members, frame);
    } catch (error) {
      throw new RouteError("unavailable", `could not relay to another domain: ${errorText(error)}`);
    }
  }

  async #fanOutRest(
    notLocal: string[] | null,
    liveOnly: string[] | null,
    frame: Frame,
    senderUser: string,
  ): Promise<void> {
    for (const member of liveOnly ?? []) await this.#sendLiveOnly(member, frame);
    if (notLocal !== null) await this.offlineQueue.enqueue(notLocal, frame, senderUser);
  }

  /**
   * A live-only frame for a device that may be connected to another
   * instance. Best effort by definition: such frames are never queued, so a
   * presence or bus failure drops it (as nobody reading would).
   */
  async #sendLiveOnly(deviceId: string, frame: Frame): Promise<void> {
    const entry = await this.#o.presence.get(deviceId).catch(() => null); // best effort, above
    if (!entry || entry.instance === this.#o.instanceId) return;
    await this.#o.bus.send(entry.instance, {
      kind: "frame",
      deviceId,
      frame: encodeBase64(encodeFrame(frame)),
    }).catch((error: unknown) =>
      this.#o.log?.warn("live-only frame not sent", { error: String(error) })
    );
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
