import assert from "node:assert/strict";
import { FecEncoder, InProcessRaptorq } from "../fec/mod.ts";
import type { TransportDescriptor } from "../transport/mod.ts";
import {
  AssistRateLimitedError,
  AssistService,
  type LivePath,
  PathQualityMeter,
  qualityScore,
} from "./mod.ts";

const engine = await InProcessRaptorq.create();

const TLS: TransportDescriptor = {
  kind: "tls",
  transport: "WebSocket",
  resistance: "Basic",
  latency: "Low",
  throughput: "High",
  port: 8443,
  configKey: "server.bind",
  modes: ["binary", "sse", "long-poll", "websocket"],
};
const SS: TransportDescriptor = {
  ...TLS,
  kind: "shadowsocks",
  transport: "Shadowsocks",
  resistance: "Enhanced",
  port: 8388,
  configKey: "transport.shadowsocks.bind",
};

function service(paths: Record<string, LivePath[]>, now = () => 0) {
  return new AssistService({
    transports: () => [TLS, SS],
    livePaths: (device) => paths[device] ?? [],
    encoder: new FecEncoder(engine),
    fec: { symbolSize: 1152, maxObjectBytes: 1 << 20 },
    keepaliveIntervalSeconds: 30,
    limit: { burst: 2, windowMs: 60_000, penaltyMs: 0 },
    now,
  });
}

Deno.test("path quality: RTT, jitter and loss come from answered and expired probes only", () => {
  const m = new PathQualityMeter({ timeoutMs: 1000, window: 8 });
  assert.equal(m.snapshot(0), null, "nothing measured: no numbers");
  m.sent(1, 0);
  m.sent(2, 100);
  m.sent(3, 200);
  assert.equal(m.answered(1, 40), true);
  assert.equal(m.answered(2, 160), true);
  assert.equal(m.answered(99, 170), false, "an unknown nonce is ignored");
  assert.equal(m.answered(1, 180), false, "an answer counts once");
  // Probe 3 is never answered: lost once its timeout passes.
  assert.deepEqual(m.snapshot(1201), { rttMs: 50, jitterMs: 20, lossRatio: 1 / 3, samples: 3 });
  // A path that never answers stays bounded and reads as all lost.
  const dead = new PathQualityMeter({ window: 4 });
  for (let i = 0; i < 100; i++) dead.sent(i, i);
  const s = dead.snapshot(100)!;
  assert.equal(s.rttMs, null);
  assert.equal(s.lossRatio, 1);
  assert.equal(s.samples, 4);
  assert.deepEqual(qualityScore(s), { score: 0, label: "critical" });
  assert.deepEqual(qualityScore({ rttMs: 20, jitterMs: 2, lossRatio: 0, samples: 5 }), {
    score: 100,
    label: "excellent",
  });
  assert.equal(qualityScore({ rttMs: 150, jitterMs: 40, lossRatio: 0.2, samples: 5 }).score, 58);
});

Deno.test("assist: transports, measured paths ranked, FEC profile and the sample plan", async () => {
  const good = new PathQualityMeter();
  good.sent(1, 0);
  good.answered(1, 20);
  const bad = new PathQualityMeter();
  bad.sent(1, 0);
  bad.answered(1, 300);
  bad.sent(2, 400);
  const paths: LivePath[] = [
    { id: 1, mode: "websocket", quality: bad.snapshot(3000) },
    { id: 2, mode: "binary", quality: good.snapshot(3000) },
    { id: 3, mode: "sse", quality: null },
  ];
  const a = await service({ "alice-1": paths }).assist("alice-1", {});
  assert.deepEqual((a.transports as { kind: string }[]).map((t) => t.kind), ["tls", "shadowsocks"]);
  assert.ok(!JSON.stringify(a).includes("transport.shadowsocks.bind"), "no config keys leak");
  const reported = a.paths as {
    path_id: string;
    network_quality: Record<string, unknown> | null;
  }[];
  assert.equal(reported[0].network_quality!.rtt_ms, 300);
  assert.equal(reported[0].network_quality!.packet_loss_percent, 50);
  assert.equal(reported[0].network_quality!.probe_method, "path_echo");
  assert.equal(reported[2].network_quality, null, "unmeasured: null, not a guess");
  const mp = a.multipath as Record<string, unknown>;
  assert.deepEqual(mp.recommended_paths, ["2", "1", "3"]);
  assert.equal(mp.primary_path, "2");
  assert.equal(mp.schedule, "raptorq");
  assert.equal(mp.fec_overhead, 0.55);
  // 3 symbols + ⌈3 × 0.55⌉ = 2 repair, round-robin over the three paths.
  const seg = mp.sample_segments as Record<string, { total: number; repair: number }>;
  assert.deepEqual(seg, {
    "2": { total: 2, repair: 1 },
    "1": { total: 2, repair: 1 },
    "3": { total: 1, repair: 0 },
  });
  assert.deepEqual((a.fec as Record<string, unknown>).repair_esi_from, "K'");
});

Deno.test("assist: without live paths it plans for min_paths; two paths duplicate", async () => {
  const s = service({});
  const none = await s.assist("bob-1", { min_paths: 4 });
  const mp = none.multipath as Record<string, unknown>;
  assert.equal(mp.live_paths, 0);
  assert.equal(mp.schedule, "raptorq");
  assert.equal(mp.fec_overhead, 0.383);
  assert.deepEqual(mp.recommended_paths, ["planned-0", "planned-1", "planned-2", "planned-3"]);
  const two = await s.assist("carol-1", { fec: { repair_overhead: 0.9 } });
  const m2 = two.multipath as Record<string, unknown>;
  assert.equal(m2.schedule, "duplicate");
  assert.equal(m2.fec_overhead, 0);
  assert.deepEqual(m2.sample_segments, {
    "planned-0": { total: 3, repair: 0 },
    "planned-1": { total: 3, repair: 0 },
  });
});

Deno.test("assist: rate-limited per device", async () => {
  const s = service({});
  await s.assist("alice-1", {});
  await s.assist("alice-1", {});
  await assert.rejects(s.assist("alice-1", {}), AssistRateLimitedError);
  await s.assist("bob-1", {}); // another device has its own budget
});
