/**
 * The SFU's per-frame work in process: one encoded VoiceFrame routed through
 * the router, the call service and the SFU (metrics wired as `serve` wires
 * them) to peers that take it at once, for a 1:1 call and a 5-party call.
 * No session: decryption, sealing and the socket are the load tool's
 * (`bench load --scenario pairs,sfu`). `scripts/deno task bench bench/sfu_bench.ts`.
 */
import { createLedger } from "../src/ledger/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { Metrics } from "../src/metrics/mod.ts";
import { controlFrame, type Frame, FrameType } from "../src/proto/mod.ts";
import { type Peer, replyWhenDone, type RouteOptions } from "../src/router/mod.ts";
import { openRouterWorld } from "../src/router/testing.ts";
import { wireCalls } from "../src/server/calls_wiring.ts";

/** A connected device that takes media at once, like a session with room. */
class ReadyPeer implements Peer {
  delivered = 0;
  constructor(readonly deviceId: string) {}
  get userId(): string {
    return `u-${this.deviceId}`;
  }
  get connectionId(): string {
    return `c-${this.deviceId}`;
  }
  deliver(_frame: Frame): boolean {
    this.delivered++;
    return true;
  }
  deliverMedia(_frame: Frame): boolean {
    this.delivered++;
    return true;
  }
  checkOfflineQueue(): void {}
  refreshPresence(): void {}
  close(): void {}
}

/** A call of `n` accepted participants on channel `channel`; routes one VoiceFrame per call. */
async function call(n: number, channel: number): Promise<() => void> {
  const world = await openRouterWorld({ prefix: "commucat-sfu-bench-" });
  const ledger = await createLedger({ mode: "null", logger: silentLogger });
  await wireCalls({
    router: world.router,
    registry: world.registry,
    metrics: new Metrics(),
    ledger,
  });
  const peers = Array.from({ length: n }, (_, i) => new ReadyPeer(`d${channel}-${i}`));
  for (const p of peers) world.registry.add(p);
  let sequence = 0;
  const control = async (p: Peer, type: FrameType, body: unknown) =>
    await replyWhenDone(world.router.route(p, controlFrame(type, channel, ++sequence, body), body));
  const others = peers.slice(1).map((p) => p.deviceId);
  await control(peers[0], FrameType.Join, { members: others });
  await control(peers[0], FrameType.CallOffer, {
    call_id: `bench-${channel}`,
    from: peers[0].deviceId,
    to: others,
    media: { audio: { codec: "opus", bitrate: 32000, sample_rate: 48000, channels: 1 } },
  });
  for (const p of peers.slice(1)) {
    await control(p, FrameType.CallAnswer, { call_id: `bench-${channel}`, accept: true });
  }
  // 100 B of Opus behind the media header (version 1, encoded, opus), as the load tool sends.
  const payload = new Uint8Array(103);
  payload[0] = 1;
  const cumulative: RouteOptions = { deferPlainAck: true };
  let i = 0;
  return () => {
    const frame = { type: FrameType.VoiceFrame, channel, sequence: ++sequence, payload };
    world.router.route(peers[i++ % n], frame, undefined, cumulative);
  };
}

const oneToOne = await call(2, 1);
const fiveParty = await call(5, 2);

Deno.bench("sfu: VoiceFrame routed, 1:1 call (1 delivery)", { group: "sfu" }, oneToOne);
Deno.bench("sfu: VoiceFrame routed, 5-party call (4 deliveries)", { group: "sfu" }, fiveParty);
