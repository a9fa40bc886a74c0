/**
 * Routing of established-session frames between devices (upstream §6.3,
 * with the authorization fixes of docs/PROTOCOL.md): routes are persisted,
 * only members change a route, Leave removes only the sender, and a frame for
 * an offline member is stored before the sender is acknowledged.
 *
 * @module
 */
import { encodeBase64 } from "../proto/mod.ts";
import { controlFrame, encodeFrame, type Frame, FrameType, parseControl } from "../proto/mod.ts";
import type {
  GroupMemberRecord,
  GroupRole,
  RelayEnvelope,
  RouteRecord,
  Store,
} from "../storage/mod.ts";
import type { AccessPolicy } from "./access.ts";
import type { Bus } from "./bus.ts";
import { RouteError } from "./errors.ts";
import type { Peer } from "./peer.ts";
import type { Presence } from "./presence.ts";
import type { PeerRegistry } from "./registry.ts";

/** Frame types kept in the offline queue when a member is not connected. */
const QUEUED_TYPES: ReadonlySet<number> = new Set([
  FrameType.Msg,
  FrameType.KeyUpdate,
  FrameType.GroupCreate,
  FrameType.GroupInvite,
  FrameType.GroupEvent,
  FrameType.CallOffer,
  FrameType.CallAnswer,
  FrameType.CallEnd,
]);

/** Frame types a route member may broadcast to the others. */
const BROADCAST_TYPES: ReadonlySet<number> = new Set([
  FrameType.Msg,
  FrameType.Typing,
  FrameType.KeyUpdate,
  FrameType.GroupEvent,
  FrameType.CallOffer,
  FrameType.CallAnswer,
  FrameType.CallEnd,
  FrameType.CallStats,
  FrameType.TransportUpdate,
  FrameType.VoiceFrame,
  FrameType.VideoFrame,
]);

/** Dependencies of the router. */
export interface RouterOptions {
  store: Store;
  registry: PeerRegistry;
  presence: Presence;
  access: AccessPolicy;
  /** Reaches devices connected to other instances. */
  bus: Bus;
  instanceId: string;
  relayTtlSeconds: number;
  presenceTtlSeconds: number;
  newId: (context: string) => string;
  now?: () => number;
  /** Members on other domains (`device@b.example`): their frames go to federation. */
  remote?: RemoteRelay;
  /** Routes kept in memory (default 65 536); the oldest cached go first. */
  maxCachedRoutes?: number;
}

/** Relays frames to route members that live on another domain. */
export interface RemoteRelay {
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
  enqueued: number;
}

/** The sender of a frame, as authenticated by the handshake. */
export type Sender = Pick<Peer, "deviceId" | "userId" | "connectionId">;

/** Routes frames of established sessions. */
export class Router {
  readonly stats: RouterStats = { routed: 0, deliveredLive: 0, enqueued: 0 };
  #o: RouterOptions;
  #now: () => number;
  #routes = new Map<number, RouteRecord | null>();
  #maxCachedRoutes: number;

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#maxCachedRoutes = Math.max(1, options.maxCachedRoutes ?? 65_536);
  }

  /** Routes cached in memory now (bounded: clients pick channel ids freely). */
  get cachedRoutes(): number {
    return this.#routes.size;
  }

  #cacheRoute(channel: number, route: RouteRecord | null): void {
    this.#routes.delete(channel);
    this.#routes.set(channel, route);
    // Map keeps insertion order: the first key is the oldest entry.
    if (this.#routes.size > this.#maxCachedRoutes) {
      this.#routes.delete(this.#routes.keys().next().value!);
    }
  }

  /**
   * Handles one frame from `sender`; returns the reply (an Ack) for the
   * sender, or null when none is due. Throws {@link RouteError} for a
   * rejected frame (the caller turns it into an Error frame), synchronously
   * or through the returned promise.
   *
   * A broadcast on a cached route to connected members completes
   * synchronously (no promise): that is the hot path of a chat server.
   * With `deferPlainAck`, a broadcast returns null instead of its plain
   * `{"ack": n}`: the caller acknowledges it cumulatively (PROTOCOL.md §4).
   */
  route(
    sender: Sender,
    frame: Frame,
    control: unknown,
    options?: RouteOptions,
  ): Frame | null | Promise<Frame | null> {
    switch (frame.type) {
      case FrameType.Join:
        return this.#join(sender, frame, control);
      case FrameType.Leave:
        return this.#leave(sender, frame);
      case FrameType.Presence:
        return this.#presence(sender, frame, control);
      case FrameType.GroupCreate:
        return this.#groupCreate(sender, frame, control);
      case FrameType.GroupInvite:
        return this.#groupInvite(sender, frame, control);
      default: {
        if (!BROADCAST_TYPES.has(frame.type)) {
          throw new RouteError("unsupported", `frame type ${frame.type} is not routed`);
        }
        if (
          frame.type !== FrameType.Msg && frame.type !== FrameType.VoiceFrame &&
          frame.type !== FrameType.VideoFrame
        ) {
          this.#validate(frame.type, control);
        }
        const reply = options?.deferPlainAck ? null : ack(frame);
        const cached = this.#routes.get(frame.channel);
        if (cached) {
          this.#checkMember(sender, frame.channel, cached);
          const rest = this.#broadcastNow(sender.deviceId, cached, frame);
          return rest === null ? reply : rest.then(() => reply);
        }
        return this.#memberRoute(sender, frame.channel)
          .then((route) => this.broadcast(sender.deviceId, route, frame))
          .then(() => reply);
      }
    }
  }

  /**
   * Sends `frame` to every member of `route` except `fromDevice`: live where
   * connected, into the durable queue otherwise (for queued types). Resolves
   * once every offline copy is stored.
   */
  async broadcast(fromDevice: string, route: RouteRecord, frame: Frame): Promise<void> {
    await this.#broadcastNow(fromDevice, route, frame);
  }

  /**
   * {@link broadcast}, synchronous as far as it can be: returns null when every
   * member was reached live, else a promise for the stores and relays left.
   */
  #broadcastNow(fromDevice: string, route: RouteRecord, frame: Frame): Promise<void> | null {
    this.stats.routed++;
    const queued = QUEUED_TYPES.has(frame.type);
    let notLocal: string[] | null = null;
    let liveOnly: string[] | null = null;
    let remote: string[] | null = null;
    for (const member of route.members) {
      if (member === fromDevice) continue;
      if (this.#o.remote?.isRemote(member)) {
        if (queued) (remote ??= []).push(member); // live-only types stay on this domain
        continue;
      }
      const peer = this.#o.registry.get(member);
      if (peer && peer.deliver(frame)) {
        this.stats.deliveredLive++;
      } else if (queued) {
        (notLocal ??= []).push(member);
      } else if (!peer) {
        (liveOnly ??= []).push(member);
      }
    }
    if (notLocal === null && liveOnly === null && remote === null) return null;
    const rest = notLocal === null && liveOnly === null
      ? Promise.resolve()
      : this.#broadcastRest(notLocal, liveOnly, frame);
    return remote === null ? rest : rest.then(() => this.#relayRemote(fromDevice, remote!, frame));
  }

  /** Frames for members on other domains go to federation, durably. */
  async #relayRemote(fromDevice: string, members: string[], frame: Frame): Promise<void> {
    try {
      await this.#o.remote!.relay(fromDevice, members, frame);
    } catch (error) {
      throw new RouteError("unavailable", `could not relay to another domain: ${errorText(error)}`);
    }
  }

  async #broadcastRest(
    notLocal: string[] | null,
    liveOnly: string[] | null,
    frame: Frame,
  ): Promise<void> {
    for (const member of liveOnly ?? []) await this.#relayLiveOnly(member, frame);
    if (notLocal !== null) await this.enqueue(notLocal, frame);
  }

  /** A live-only frame for a device that may be connected to another instance. */
  async #relayLiveOnly(deviceId: string, frame: Frame): Promise<void> {
    const entry = await this.#o.presence.get(deviceId).catch(() => null);
    if (!entry || entry.instance === this.#o.instanceId) return;
    await this.#o.bus.send(entry.instance, {
      kind: "frame",
      deviceId,
      frame: encodeBase64(encodeFrame(frame)),
    }).catch(() => {});
  }

  /** Stores `frame` in the offline queues of `devices` (atomically), then nudges any that came online meanwhile. */
  async enqueue(devices: string[], frame: Frame): Promise<void> {
    const now = this.#now();
    const payload = encodeFrame(frame);
    const envelopes: RelayEnvelope[] = devices.map((deviceId) => ({
      envelopeId: this.#o.newId(`envelope:${deviceId}`),
      deviceId,
      payload,
      deliverAfter: new Date(now),
      expiresAt: new Date(now + this.#o.relayTtlSeconds * 1000),
    }));
    try {
      await this.#o.store.enqueueRelay(envelopes);
    } catch (error) {
      throw new RouteError(
        "unavailable",
        `could not store the frame for offline members: ${errorText(error)}`,
      );
    }
    this.stats.enqueued += envelopes.length;
    // A device that connected while we were writing may have drained its
    // queue already; tell it to look again — here or on its instance.
    const remote: Promise<void>[] = [];
    for (const deviceId of devices) {
      const local = this.#o.registry.get(deviceId);
      if (local) local.checkOfflineQueue();
      else remote.push(this.#notifyHolder(deviceId));
    }
    // One presence look-up per recipient, all at once (a group fan-out must
    // not pay them one after another).
    if (remote.length > 0) await Promise.all(remote);
  }

  async #notifyHolder(deviceId: string): Promise<void> {
    const entry = await this.#o.presence.get(deviceId).catch(() => null);
    if (entry && entry.instance !== this.#o.instanceId) {
      await this.#o.bus.send(entry.instance, { kind: "offline-queue", deviceId }).catch(() => {});
    }
  }

  /**
   * Puts a frame a device never acknowledged back into its offline queue
   * (connection lost or cut off). Ephemeral types are dropped.
   */
  async requeue(deviceId: string, frame: Frame): Promise<void> {
    if (QUEUED_TYPES.has(frame.type)) await this.enqueue([deviceId], frame);
  }

  /** Forgets cached routes (another instance changed them). */
  invalidateRoute(channel?: number): void {
    if (channel === undefined) this.#routes.clear();
    else this.#routes.delete(channel);
  }

  async #getRoute(channel: number): Promise<RouteRecord | null> {
    if (this.#routes.has(channel)) return this.#routes.get(channel) ?? null;
    const route = await this.#o.store.getRoute(channel);
    this.#cacheRoute(channel, route);
    return route;
  }

  async #putRoute(route: RouteRecord): Promise<void> {
    await this.#o.store.putRoute(route);
    this.#cacheRoute(route.channel, route);
    await this.#announceRoute(route.channel);
  }

  async #deleteRoute(channel: number): Promise<void> {
    await this.#o.store.deleteRoute(channel);
    this.#cacheRoute(channel, null);
    await this.#announceRoute(channel);
  }

  /** Other instances drop their cached copy of the route. */
  async #announceRoute(channel: number): Promise<void> {
    await this.#o.bus.broadcast({ kind: "route", channel, from: this.#o.instanceId }).catch(
      () => {},
    );
  }

  async #memberRoute(sender: Sender, channel: number): Promise<RouteRecord> {
    const route = await this.#getRoute(channel);
    this.#checkMember(sender, channel, route);
    return route!;
  }

  #checkMember(sender: Sender, channel: number, route: RouteRecord | null): void {
    if (!route) {
      throw new RouteError("no_route", `channel ${channel} has no route; send Join first`);
    }
    if (!route.members.includes(sender.deviceId)) {
      throw new RouteError("not_member", `device is not a member of channel ${channel}`);
    }
  }

  #validate(type: FrameType, control: unknown): Record<string, unknown> {
    const parsed = parseControl(type, control);
    if (!parsed.ok) throw new RouteError("invalid_payload", parsed.error);
    return (parsed.value ?? {}) as Record<string, unknown>;
  }

  async #authorize(sender: Sender, devices: Iterable<string>): Promise<void> {
    for (const device of devices) {
      if (device === sender.deviceId) continue;
      if (!(await this.#o.access.mayReach(sender, device))) {
        throw new RouteError("forbidden", `device ${JSON.stringify(device)} cannot be added`);
      }
    }
  }

  async #join(sender: Sender, frame: Frame, control: unknown): Promise<Frame> {
    const body = this.#validate(frame.type, control) as {
      relay?: boolean;
      members?: string[];
      group_id?: string;
    };
    const existing = await this.#getRoute(frame.channel);
    let members: string[];
    let groupId: string | null = existing?.groupId ?? null;
    if (body.group_id !== undefined) {
      const groupMembers = await this.#o.store.listGroupMembers(body.group_id);
      if (groupMembers.length === 0) {
        throw new RouteError("unknown_group", `group ${body.group_id} not found`);
      }
      if (!groupMembers.some((m) => m.deviceId === sender.deviceId)) {
        throw new RouteError("not_member", `device is not a member of group ${body.group_id}`);
      }
      // A channel is bound to a group only when new or already that group's:
      // otherwise a member could swap a route's members for a group's.
      if (existing && existing.groupId !== body.group_id) {
        throw new RouteError("not_member", `channel ${frame.channel} belongs to another route`);
      }
      members = groupMembers.map((m) => m.deviceId);
      groupId = body.group_id;
    } else {
      if (existing && !existing.members.includes(sender.deviceId)) {
        throw new RouteError(
          "not_member",
          `channel ${frame.channel} exists; only its members can join others`,
        );
      }
      const declared = body.members ?? [];
      await this.#authorize(sender, declared);
      members = unique([...(existing?.members ?? []), sender.deviceId, ...declared]);
    }
    if (!members.includes(sender.deviceId)) members.push(sender.deviceId);
    await this.#putRoute({
      channel: frame.channel,
      members,
      relay: body.relay ?? existing?.relay ?? false,
      groupId,
    });
    return ack(frame, groupId ? { group_id: groupId } : undefined);
  }

  async #leave(sender: Sender, frame: Frame): Promise<Frame> {
    const route = await this.#memberRoute(sender, frame.channel);
    const members = route.members.filter((m) => m !== sender.deviceId);
    if (members.length === 0) await this.#deleteRoute(frame.channel);
    else await this.#putRoute({ ...route, members });
    return ack(frame);
  }

  async #presence(sender: Sender, frame: Frame, control: unknown): Promise<Frame> {
    const body = this.#validate(frame.type, control) as { state?: string };
    await this.#o.presence.set(
      sender.deviceId,
      body.state ?? "online",
      this.#o.instanceId,
      this.#o.presenceTtlSeconds,
    );
    return ack(frame);
  }

  async #groupCreate(sender: Sender, frame: Frame, control: unknown): Promise<Frame> {
    const body = this.#validate(frame.type, control) as {
      group_id?: string;
      relay?: boolean;
      members?: string[];
      roles?: Record<string, GroupRole>;
    };
    const groupId = body.group_id ?? this.#o.newId(`group:${sender.deviceId}`);
    const existingRoute = await this.#getRoute(frame.channel);
    if (existingRoute && !existingRoute.members.includes(sender.deviceId)) {
      throw new RouteError("not_member", `channel ${frame.channel} is in use by another route`);
    }
    const declared = unique([...(body.members ?? []), ...Object.keys(body.roles ?? {})])
      .filter((d) => d !== sender.deviceId);
    await this.#authorize(sender, declared);
    const now = new Date(this.#now());
    const members: GroupMemberRecord[] = [
      { groupId, deviceId: sender.deviceId, role: "owner", joinedAt: now },
      ...declared.map((deviceId) => ({
        groupId,
        deviceId,
        role: roleOf(body.roles?.[deviceId]),
        joinedAt: now,
      })),
    ];
    try {
      await this.#o.store.createGroup(
        { groupId, ownerDevice: sender.deviceId, createdAt: now },
        members,
      );
    } catch (error) {
      throw new RouteError(
        "conflict",
        `group ${groupId} could not be created: ${errorText(error)}`,
      );
    }
    const route: RouteRecord = {
      channel: frame.channel,
      members: members.map((m) => m.deviceId),
      relay: body.relay ?? true,
      groupId,
    };
    await this.#putRoute(route);
    await this.broadcast(sender.deviceId, route, frame);
    return ack(frame, { group_id: groupId });
  }

  async #groupInvite(sender: Sender, frame: Frame, control: unknown): Promise<Frame> {
    const body = this.#validate(frame.type, control) as {
      group_id: string;
      device: string;
      role?: GroupRole;
    };
    const members = await this.#o.store.listGroupMembers(body.group_id);
    if (members.length === 0) {
      throw new RouteError("unknown_group", `group ${body.group_id} not found`);
    }
    const inviter = members.find((m) => m.deviceId === sender.deviceId);
    if (!inviter || inviter.role === "member") {
      throw new RouteError("forbidden", "only a group owner or admin can invite");
    }
    await this.#authorize(sender, [body.device]);
    const existing = await this.#getRoute(frame.channel);
    if (existing && existing.groupId !== body.group_id) {
      throw new RouteError("not_member", `channel ${frame.channel} belongs to another route`);
    }
    // Roles only go where the inviter may put them: nobody becomes owner by
    // invitation, an existing owner is never demoted, and only the owner
    // changes an existing member's role.
    const current = members.find((m) => m.deviceId === body.device);
    const asked = body.role === "owner" ? "admin" : roleOf(body.role);
    const role = current && (current.role === "owner" || inviter.role !== "owner")
      ? current.role
      : asked;
    await this.#o.store.upsertGroupMember({
      groupId: body.group_id,
      deviceId: body.device,
      role,
      joinedAt: new Date(this.#now()),
    });
    const route: RouteRecord = existing
      ? { ...existing, members: unique([...existing.members, sender.deviceId, body.device]) }
      : {
        channel: frame.channel,
        members: unique([...members.map((m) => m.deviceId), body.device]),
        relay: true,
        groupId: body.group_id,
      };
    await this.#putRoute(route);
    await this.broadcast(sender.deviceId, route, frame);
    return ack(frame, { group_id: body.group_id, device: body.device });
  }
}

function roleOf(role: string | undefined): GroupRole {
  return role === "owner" || role === "admin" ? role : "member";
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The Ack for a client frame: `{"ack": <its sequence>, …extra}` on its channel. */
export function ack(frame: Frame, extra?: Record<string, unknown>): Frame {
  return controlFrame(FrameType.Ack, frame.channel, 0, { ack: frame.sequence, ...extra });
}
