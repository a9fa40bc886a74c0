/**
 * The router's built-in frame handlers: broadcasts on a route, Join and
 * Leave (only members change a route, Leave removes only the sender),
 * Presence, and groups (creation, invitation).
 *
 * @module
 */
import {
  BROADCAST_FRAME_TYPES,
  controlFrame,
  type Frame,
  FrameType,
  isControlType,
  parseControl,
} from "../proto/mod.ts";
import type { GroupMemberRecord, GroupRole, RouteRecord, Store } from "../storage/mod.ts";
import type { AccessPolicy } from "./access.ts";
import { RouteError } from "./errors.ts";
import type { Presence } from "./presence.ts";
import {
  AckWhenDurable,
  type FrameHandler,
  type FrameRequest,
  replyOnceRouted,
  type Router,
  type RouteReply,
  type Sender,
} from "./router.ts";
import { checkMember } from "./routes.ts";

/** What the built-in handlers need besides the router. */
export interface HandlerDeps {
  store: Store;
  presence: Presence;
  access: AccessPolicy;
  instanceId: string;
  presenceTtlSeconds: number;
  newId: (context: string) => string;
  now?: () => number;
}

/** The built-in handler of each routed frame type. */
export function builtInHandlers(router: Router, deps: HandlerDeps): Map<FrameType, FrameHandler> {
  const h = new BuiltIn(router, deps);
  const table = new Map<FrameType, FrameHandler>();
  const broadcast: FrameHandler = (r) => h.broadcast(r);
  for (const type of BROADCAST_FRAME_TYPES) table.set(type, broadcast);
  table.set(FrameType.Join, (r) => h.join(r));
  table.set(FrameType.Leave, (r) => h.leave(r));
  table.set(FrameType.Presence, (r) => h.presence(r));
  table.set(FrameType.GroupCreate, (r) => h.groupCreate(r));
  table.set(FrameType.GroupInvite, (r) => h.groupInvite(r));
  return table;
}

class BuiltIn {
  readonly #router: Router;
  readonly #d: HandlerDeps;
  readonly #now: () => number;

  constructor(router: Router, deps: HandlerDeps) {
    this.#router = router;
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** A member's frame for the other members of its route. */
  broadcast({ sender, frame, control, options }: FrameRequest): RouteReply {
    if (isControlType(frame.type)) validate(frame.type, control);
    const reply = options?.deferPlainAck ? null : ack(frame);
    const cached = this.#router.routes.cached(frame.channel);
    if (cached) {
      checkMember(sender, frame.channel, cached);
      const out = this.#router.broadcastNow(sender, cached, frame);
      if (out.pending === null) {
        return out.durable === null ? reply : new AckWhenDurable(reply, out.durable);
      }
      return replyOnceRouted(out, reply);
    }
    return this.#broadcastOnRead(sender, frame, reply);
  }

  /**
   * {@link broadcast} once the route is read; then, as on a cached route,
   * only the Ack waits for live copies. A method of its own: the closure's
   * captured sender, frame and reply were allocated in a context on every
   * broadcast, cached routes included.
   */
  #broadcastOnRead(
    sender: Sender,
    frame: Frame,
    reply: Frame | null,
  ): Promise<Frame | null | AckWhenDurable> {
    return this.#router.memberRoute(sender, frame.channel)
      .then((route) => replyOnceRouted(this.#router.broadcastNow(sender, route, frame), reply));
  }

  async #authorize(sender: Sender, devices: Iterable<string>): Promise<void> {
    for (const device of devices) {
      if (device === sender.deviceId) continue;
      if (!(await this.#d.access.mayReach(sender, device))) {
        throw new RouteError("forbidden", `device ${JSON.stringify(device)} cannot be added`);
      }
    }
  }

  async join({ sender, frame, control }: FrameRequest): Promise<Frame> {
    const body = validate(frame.type, control) as { members?: string[]; group_id?: string };
    const routes = this.#router.routes;
    const existing = await routes.get(frame.channel);
    let members: string[];
    let groupId: string | null = existing?.groupId ?? null;
    if (body.group_id !== undefined) {
      const groupMembers = await this.#d.store.listGroupMembers(body.group_id);
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
    await routes.put({ channel: frame.channel, members, groupId });
    return ack(frame, groupId ? { group_id: groupId } : undefined);
  }

  async leave({ sender, frame }: FrameRequest): Promise<Frame> {
    const route = await this.#router.memberRoute(sender, frame.channel);
    const members = route.members.filter((m) => m !== sender.deviceId);
    if (members.length === 0) await this.#router.routes.delete(frame.channel);
    else await this.#router.routes.put({ ...route, members });
    return ack(frame);
  }

  async presence({ sender, frame, control }: FrameRequest): Promise<Frame> {
    const body = validate(frame.type, control) as { state?: string };
    await this.#d.presence.set(
      sender.deviceId,
      body.state ?? "online",
      this.#d.instanceId,
      this.#d.presenceTtlSeconds,
    );
    return ack(frame);
  }

  async groupCreate({ sender, frame, control }: FrameRequest): Promise<Frame | AckWhenDurable> {
    const body = validate(frame.type, control) as {
      group_id?: string;
      members?: string[];
      roles?: Record<string, GroupRole>;
    };
    const groupId = body.group_id ?? this.#d.newId(`group:${sender.deviceId}`);
    const existingRoute = await this.#router.routes.get(frame.channel);
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
      await this.#d.store.createGroup(
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
      groupId,
    };
    await this.#router.routes.put(route);
    return await replyOnceRouted(
      this.#router.broadcastNow(sender, route, frame),
      ack(frame, { group_id: groupId }),
    );
  }

  async groupInvite({ sender, frame, control }: FrameRequest): Promise<Frame | AckWhenDurable> {
    const body = validate(frame.type, control) as {
      group_id: string;
      device: string;
      role?: GroupRole;
    };
    const members = await this.#d.store.listGroupMembers(body.group_id);
    if (members.length === 0) {
      throw new RouteError("unknown_group", `group ${body.group_id} not found`);
    }
    const inviter = members.find((m) => m.deviceId === sender.deviceId);
    if (!inviter || inviter.role === "member") {
      throw new RouteError("forbidden", "only a group owner or admin can invite");
    }
    await this.#authorize(sender, [body.device]);
    const existing = await this.#router.routes.get(frame.channel);
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
    await this.#d.store.upsertGroupMember({
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
        groupId: body.group_id,
      };
    await this.#router.routes.put(route);
    return await replyOnceRouted(
      this.#router.broadcastNow(sender, route, frame),
      ack(frame, { group_id: body.group_id, device: body.device }),
    );
  }
}

function validate(type: FrameType, control: unknown): Record<string, unknown> {
  const parsed = parseControl(type, control);
  if (!parsed.ok) throw new RouteError("invalid_payload", parsed.error);
  return (parsed.value ?? {}) as Record<string, unknown>;
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
