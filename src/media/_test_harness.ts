/**
 * A router with calls installed, fake peers and a real SQLite store in a
 * temporary directory: the call tests' world, no server process.
 */
import { controlFrame, decodeFrame, type Frame, FrameType } from "../proto/mod.ts";
import {
  type DeliveryOrigin,
  type Peer,
  type PeerCloseReason,
  type PeerRegistry,
  replyWhenDone,
  type Router,
} from "../router/mod.ts";
import { openRouterWorld } from "../router/testing.ts";
import { CallService, type CallServiceDeps } from "./call_service.ts";
import { Sfu, type SfuOptions } from "./sfu.ts";

/** A connected device that records what it is given. */
export class FakePeer implements Peer {
  readonly received: Frame[] = [];
  readonly closed: PeerCloseReason[] = [];
  /** What {@link hasRoomForMedia} answers. */
  room = true;
  constructor(readonly deviceId: string, readonly userId = `user-of-${deviceId}`) {}
  get connectionId(): string {
    return `conn-${this.deviceId}`;
  }
  deliver(frame: Frame, _origin?: DeliveryOrigin): boolean {
    this.received.push(frame);
    return true;
  }
  hasRoomForMedia(): boolean {
    return this.room;
  }
  checkOfflineQueue(): void {}
  refreshPresence(): void {}
  close(reason: PeerCloseReason): void {
    this.closed.push(reason);
  }
  /** Received frames of `type`. */
  of(type: FrameType): Frame[] {
    return this.received.filter((f) => f.type === type);
  }
}

/** A peer that takes call media in one step ({@link Peer.deliverMedia}), like a session does. */
export class OneStepMediaPeer extends FakePeer {
  deliverMedia(frame: Frame): boolean {
    if (!this.room) return false;
    this.received.push(frame);
    return true;
  }
}

/** The world of one test. */
export interface CallHarness {
  router: Router;
  registry: PeerRegistry;
  calls: CallService;
  sfu: Sfu;
  /** What went to the ledger. */
  ledger: Record<string, unknown>[];
  connect(deviceId: string): FakePeer;
  /** Frame types waiting in `deviceId`'s offline queue. */
  queued(deviceId: string): Promise<number[]>;
  /** Routes a control frame from `peer` and returns the reply. */
  send(peer: FakePeer, type: FrameType, channel: number, body: unknown): Promise<Frame | null>;
  /** Routes an opaque media frame. */
  media(
    peer: FakePeer,
    type: FrameType,
    channel: number,
    payload: Uint8Array,
  ): Promise<Frame | null>;
}

let sequence = 0;

/** Runs `test` in a fresh world; `options` overrides the call service's deps. */
export async function withCalls(
  test: (h: CallHarness) => Promise<void>,
  options: Partial<Omit<CallServiceDeps, "sfu">> & {
    sfuOptions?: Partial<SfuOptions>;
    /** Connected devices are {@link OneStepMediaPeer}s. */
    oneStepMedia?: boolean;
  } = {},
): Promise<void> {
  const world = await openRouterWorld({ prefix: "commucat-calls-" });
  const { router, registry, offlineQueue } = world;
  const { sfuOptions, oneStepMedia, ...deps } = options;
  const sfu = new Sfu({
    registry,
    hooks: { requestKeyFrame: (channel, sender) => calls.requestKeyFrame(channel, sender) },
    ...sfuOptions,
  });
  const ledger: Record<string, unknown>[] = [];
  // The SFU's hook reaches the service only once frames flow, after this line.
  const calls: CallService = new CallService({
    router,
    registry,
    sfu,
    limits: { maxCalls: 100, maxParticipants: 8 },
    ringTimeoutMs: 60_000,
    record: (e) => ledger.push(e),
    ...deps,
  });
  calls.install();
  const h: CallHarness = {
    router,
    registry,
    calls,
    sfu,
    ledger,
    connect(deviceId) {
      const peer = oneStepMedia ? new OneStepMediaPeer(deviceId) : new FakePeer(deviceId);
      registry.add(peer);
      return peer;
    },
    async queued(deviceId) {
      const rows = await offlineQueue.load(deviceId, { limit: 100 });
      return rows.map((r) => decodeFrame(r.payload)!.frame.type);
    },
    async send(peer, type, channel, body) {
      return await replyWhenDone(
        router.route(peer, controlFrame(type, channel, ++sequence, body), body),
      );
    },
    async media(peer, type, channel, payload) {
      return await replyWhenDone(
        router.route(peer, { type, channel, sequence: ++sequence, payload }, undefined),
      );
    },
  };
  try {
    await test(h);
  } finally {
    calls.close();
    await world.close();
  }
}

/**
 * alice and bob on `channel`; alice offers call `callId` with `media` (the
 * offer's `media` object) to bob, who accepts.
 */
export async function answeredCall(
  h: CallHarness,
  channel: number,
  callId: string,
  media: Record<string, unknown>,
): Promise<{ alice: FakePeer; bob: FakePeer }> {
  const alice = h.connect("alice");
  const bob = h.connect("bob");
  await h.send(alice, FrameType.Join, channel, { members: ["bob"] });
  await h.send(alice, FrameType.CallOffer, channel, {
    call_id: callId,
    from: "alice",
    to: ["bob"],
    media,
  });
  await h.send(bob, FrameType.CallAnswer, channel, { call_id: callId, accept: true });
  return { alice, bob };
}
