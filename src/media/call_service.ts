/**
 * Calls as router handlers (upstream §6.5, with the differences listed in
 * docs/PROTOCOL.md "Calls"): CallOffer/CallAnswer/CallEnd/CallStats/
 * TransportUpdate keep the server's call state, VoiceFrame/VideoFrame go
 * through the SFU (sfu.ts) to accepted participants only, RAW media is
 * transcoded first when the call's offer asked for it.
 *
 * The media path is media_route.ts; the dependencies' types call_deps.ts.
 *
 * @module
 */
import {
  type CallAnswerPayload,
  type CallEndPayload,
  type CallOfferPayload,
  type CallStatsPayload,
  controlFrame,
  type Frame,
  FrameType,
  parseControl,
  type TransportUpdatePayload,
} from "../proto/mod.ts";
import {
  ack,
  type AckWhenDurable,
  type FanOut,
  type FrameRequest,
  replyOnceRouted,
  RouteError,
  type Sender,
} from "../router/mod.ts";
import type { CallServiceDeps } from "./call_deps.ts";
import type { Call, CallLimits } from "./call_table.ts";
import { CallTable } from "./call_table.ts";
import { needsTranscoding, routeMedia } from "./media_route.ts";
import type { IceServer } from "./turn.ts";

export type { CallMetrics, CallServiceDeps, MediaTranscoder } from "./call_deps.ts";
export { needsTranscoding } from "./media_route.ts";

/** Call state and media forwarding, plugged into a `Router`. */
export class CallService {
  readonly calls: CallTable;
  readonly #d: CallServiceDeps;
  readonly #now: () => number;
  readonly #ringTimers = new Map<Call, ReturnType<typeof setTimeout>>();

  constructor(deps: CallServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.calls = new CallTable(deps.limits);
    deps.registry.onRemove((peer) => this.disconnected(peer.deviceId));
  }

  /** Registers the handlers of the call and media frame types on the router. */
  install(): void {
    const r = this.#d.router;
    r.handle(FrameType.CallOffer, (q) => this.#offer(q));
    r.handle(FrameType.CallAnswer, (q) => this.#answer(q));
    r.handle(FrameType.CallEnd, (q) => this.#end(q));
    r.handle(FrameType.CallStats, (q) => this.#stats(q));
    r.handle(FrameType.TransportUpdate, (q) => this.#transportUpdate(q));
    r.handle(FrameType.VoiceFrame, (q) => routeMedia(this.calls, this.#d, "audio", q));
    r.handle(FrameType.VideoFrame, (q) => routeMedia(this.calls, this.#d, "video", q));
  }

  /** Ends every call and stops the timers (server shutdown). */
  close(): void {
    for (const call of this.calls.all()) this.#remove(call);
    this.#d.sfu.close();
  }

  /**
   * `deviceId` disconnected: it leaves its calls; a call left with fewer than
   * two participants ends. The others get a system CallEnd either way.
   */
  disconnected(deviceId: string): void {
    this.#d.sfu.forget(deviceId);
    for (const call of this.calls.withParticipant(deviceId)) {
      call.participants.delete(deviceId);
      call.accepted.delete(deviceId);
      const ends = call.participants.size < 2;
      if (ends) this.#remove(call);
      this.#record("end", call, { reason: "disconnect", device: deviceId, call_ended: ends });
      const metadata: Record<string, unknown> = {
        system: true,
        cause: "disconnect",
        device: deviceId,
      };
      if (!ends) metadata.participant_left = true;
      this.#notify(call, { call_id: call.id, reason: "failure", metadata });
    }
  }

  async #offer({ sender, frame, control }: FrameRequest): Promise<Frame | AckWhenDurable> {
    const body = validate<CallOfferPayload>(frame.type, control);
    const route = await this.#d.router.memberRoute(sender, frame.channel);
    const call: Call = {
      id: body.call_id,
      channel: frame.channel,
      initiator: sender.deviceId,
      participants: new Set(route.members),
      accepted: new Set([sender.deviceId]),
      media: body.media,
      startedAt: this.#now(),
      ice: new Map(),
    };
    rememberIce(call, body.transport);
    if (call.participants.size < 2) {
      throw new RouteError("invalid_payload", `channel ${frame.channel} has nobody else to call`);
    }
    const refused = this.calls.add(call);
    if (refused !== null) throw refusal(refused, call, this.#d.limits);
    const transcoding = this.#admitTranscoding(call);
    if (transcoding !== null) {
      this.calls.remove(call);
      throw new RouteError("unavailable", transcoding);
    }
    this.#ringTimers.set(
      call,
      setTimeout(() => this.#ringTimeout(call), this.#d.ringTimeoutMs),
    );
    this.#d.metrics?.callStarted?.();
    this.#record("offer", call, {
      channel_id: call.channel,
      initiator: call.initiator,
      participants: [...call.participants],
      mode: call.media.mode,
      video: call.media.video != null,
    });
    return await replyOnceRouted(
      this.#d.router.broadcastNow(sender, route, frame),
      ack(frame, { call_id: call.id, ...this.#ice(sender, body.transport) }),
    );
  }

  #admitTranscoding(call: Call): string | null {
    if (!needsTranscoding(call)) return null;
    const transcoder = this.#d.transcoder;
    return transcoder ? transcoder.admit(call) : "this server does not transcode RAW media";
  }

  async #answer({ sender, frame, control }: FrameRequest): Promise<Frame | AckWhenDurable> {
    const body = validate<CallAnswerPayload>(frame.type, control);
    const call = this.#participantCall(sender, frame, body.call_id);
    if (body.accept) {
      rememberIce(call, body.transport);
      const others = [...call.accepted];
      call.accepted.add(sender.deviceId);
      this.#stopRinging(call);
      this.#d.sfu.joined(call.channel, sender.deviceId, others, call.media.video != null);
    } else {
      // A decline takes the decliner out; the call goes on while two remain.
      call.participants.delete(sender.deviceId);
      call.accepted.delete(sender.deviceId);
      if (call.participants.size < 2) this.#remove(call);
    }
    this.#record("answer", call, {
      device: sender.deviceId,
      accept: body.accept,
      reason: body.reason ?? null,
    });
    const out = await this.#broadcast(sender, frame);
    const extra: Record<string, unknown> = { call_id: call.id, accept: body.accept };
    if (body.reason != null) extra.reason = body.reason;
    if (body.accept) Object.assign(extra, this.#ice(sender, body.transport));
    return await replyOnceRouted(out, ack(frame, extra));
  }

  async #end({ sender, frame, control }: FrameRequest): Promise<Frame | AckWhenDurable> {
    const body = validate<CallEndPayload>(frame.type, control);
    const call = this.#participantCall(sender, frame, body.call_id);
    this.#remove(call);
    this.#record("end", call, {
      reason: body.reason,
      duration_secs: Math.floor((this.#now() - call.startedAt) / 1000),
    });
    return await replyOnceRouted(
      await this.#broadcast(sender, frame),
      ack(frame, { call_id: call.id, reason: body.reason }),
    );
  }

  async #stats({ sender, frame, control }: FrameRequest): Promise<Frame | AckWhenDurable> {
    const body = validate<CallStatsPayload>(frame.type, control);
    this.#participantCall(sender, frame, body.call_id);
    return await replyOnceRouted(
      await this.#broadcast(sender, frame),
      ack(frame, { call_id: body.call_id, direction: body.direction }),
    );
  }

  async #transportUpdate(
    { sender, frame, control }: FrameRequest,
  ): Promise<Frame | AckWhenDurable> {
    const body = validate<TransportUpdatePayload>(frame.type, control);
    const call = this.#participantCall(sender, frame, body.call_id);
    this.#d.metrics?.transport?.(body.update);
    if (body.update === "consent_keepalive" && body.interval_secs != null) {
      call.consentIntervalSecs = body.interval_secs;
    }
    return await replyOnceRouted(
      await this.#broadcast(sender, frame),
      ack(frame, { call_id: call.id, update: body.update }),
    );
  }

  /** `{ice_servers}` for `sender`, or nothing when no TURN server is configured. */
  #ice(
    sender: Sender,
    transport: { ice_credentials?: { username_fragment: string } | null } | null | undefined,
  ): { ice_servers?: IceServer[] } {
    const ufrag = transport?.ice_credentials?.username_fragment ?? null;
    const servers = this.#d.iceServers?.(sender.deviceId, ufrag) ?? [];
    return servers.length === 0 ? {} : { ice_servers: servers };
  }

  /** The call `callId` on the frame's channel, with `sender` among its participants. */
  #participantCall(sender: Sender, frame: Frame, callId: string): Call {
    const call = this.calls.get(callId);
    if (!call) throw new RouteError("no_route", `no call ${JSON.stringify(callId)}`);
    if (call.channel !== frame.channel) {
      throw new RouteError(
        "invalid_payload",
        `call ${JSON.stringify(callId)} is on channel ${call.channel}, not ${frame.channel}`,
      );
    }
    if (!call.participants.has(sender.deviceId)) {
      throw new RouteError(
        "not_member",
        `device is not a participant of call ${JSON.stringify(callId)}`,
      );
    }
    return call;
  }

  /**
   * Sends `frame` on its route; what is left to wait for ({@link replyOnceRouted}
   * makes the reply: the session's next frames wait only for the routing,
   * the Ack for the live copies too).
   */
  async #broadcast(sender: Sender, frame: Frame): Promise<FanOut> {
    const route = await this.#d.router.memberRoute(sender, frame.channel);
    return this.#d.router.broadcastNow(sender, route, frame);
  }

  #ringTimeout(call: Call): void {
    this.#ringTimers.delete(call);
    if (this.calls.get(call.id) !== call || call.accepted.size >= 2) return;
    this.#remove(call);
    this.#record("end", call, { reason: "timeout" });
    this.#notify(call, {
      call_id: call.id,
      reason: "timeout",
      metadata: { system: true, cause: "ring_timeout" },
    });
  }

  #stopRinging(call: Call): void {
    clearTimeout(this.#ringTimers.get(call));
    this.#ringTimers.delete(call);
  }

  #remove(call: Call): void {
    if (!this.calls.remove(call)) return;
    this.#stopRinging(call);
    this.#d.transcoder?.release(call);
    this.#d.metrics?.callEnded?.();
  }

  /** A server-originated CallEnd for the call's remaining participants. */
  #notify(call: Call, body: Record<string, unknown>): void {
    const frame = controlFrame(FrameType.CallEnd, call.channel, 0, body);
    for (const device of call.participants) {
      // Best effort: the call has already ended here; a participant this
      // notice cannot reach learns it from its own timeout or reconnect.
      this.#d.router.deliverTo(device, frame).catch(() => {});
    }
  }

  /** Asks `sender` for a key frame (a participant joined, or its video was skipped). */
  requestKeyFrame(channel: number, sender: string): void {
    const call = this.calls.onChannel(channel);
    if (!call) return;
    // Video the server encodes gets its key frame from the server's encoder.
    this.#d.transcoder?.forceKeyFrame?.(call, sender);
    const frame = controlFrame(FrameType.CallStats, channel, 0, {
      call_id: call.id,
      direction: "receive",
      keyframe_request: true,
      metadata: { system: true },
    });
    // Best effort: a lost key-frame request only delays the picture until the
    // sender's next periodic key frame.
    this.#d.router.deliverTo(sender, frame).catch(() => {});
  }

  #record(event: string, call: Call, data: Record<string, unknown>): void {
    this.#d.record?.({ scope: "call", event, call_id: call.id, data });
  }
}

/** Keeps the ICE credentials a participant declared, for the STUN responder. */
function rememberIce(
  call: Call,
  transport:
    | { ice_credentials?: { username_fragment: string; password: string } | null }
    | null
    | undefined,
): void {
  const c = transport?.ice_credentials;
  if (c) call.ice?.set(c.username_fragment, c.password);
}

function refusal(reason: string, call: Call, limits: CallLimits): RouteError {
  switch (reason) {
    case "call_id_in_use":
      return new RouteError("conflict", `call id ${JSON.stringify(call.id)} is in use`);
    case "channel_busy":
      return new RouteError("conflict", `channel ${call.channel} already has a call`);
    case "server_full":
      return new RouteError("unavailable", `this server has ${limits.maxCalls} calls already`);
    default:
      return new RouteError(
        "unavailable",
        `a call has at most ${limits.maxParticipants} participants (calls.max_participants)`,
      );
  }
}

function validate<T>(type: FrameType, control: unknown): T {
  const parsed = parseControl(type, control);
  if (!parsed.ok) throw new RouteError("invalid_payload", parsed.error);
  return parsed.value as T;
}
