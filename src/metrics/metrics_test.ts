import assert from "node:assert/strict";
import { FrameType } from "../proto/mod.ts";
import {
  adminTokenVerifier,
  bearerToken,
  combineObservers,
  Metrics,
  serveMetrics,
  UPSTREAM_METRICS,
} from "./mod.ts";

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  if (line === undefined) throw new Error(`no ${series}`);
  return Number(line.slice(series.length + 1));
}

Deno.test("catalog: every upstream name, counters exposed with _total, gauges unchanged", () => {
  assert.equal(UPSTREAM_METRICS.length, 28);
  for (const m of UPSTREAM_METRICS) {
    assert.match(m.upstream, /^commucat_[a-z_]+$/);
    if (m.type === "counter") assert.ok(m.name.endsWith("_total"), m.name);
    else assert.equal(m.name, m.upstream);
  }
  const gauges = UPSTREAM_METRICS.filter((m) => m.type === "gauge").map((m) => m.name);
  assert.deepEqual(gauges, [
    "commucat_connections_active",
    "commucat_multipath_paths",
    "commucat_calls_active",
  ]);
  const calls = UPSTREAM_METRICS.find((m) => m.key === "callsTotal");
  assert.equal(calls?.name, "commucat_calls_total");
});

Deno.test("observer: lifecycle of one ok and one failed connection", async () => {
  const metrics = new Metrics();
  const o = metrics.observer();
  o.opened!({ connectionId: "a", mode: "websocket" });
  o.opened!({ connectionId: "b", mode: "binary" });
  o.frameIn!(FrameType.Hello);
  o.handshake!({ connectionId: "a", ok: true, durationMs: 20 });
  o.handshake!({ connectionId: "b", ok: false, reason: "Bad Reason: with text", durationMs: 5 });
  o.frameIn!(FrameType.VoiceFrame);
  o.frameIn!(FrameType.VideoFrame);
  o.frameOut!(FrameType.Ack);
  let text = await metrics.renderMetrics();
  assert.equal(value(text, "commucat_security_noise_total"), 1);
  assert.equal(value(text, "commucat_connections_active"), 1);
  assert.equal(value(text, 'commucat_connections{mode="websocket"}'), 1);
  assert.equal(value(text, 'commucat_connections{mode="binary"}'), 1);
  assert.equal(value(text, 'commucat_handshakes_total{result="ok",reason="none"}'), 1);
  // Free text is never a label value.
  assert.equal(value(text, 'commucat_handshakes_total{result="failed",reason="other"}'), 1);
  assert.equal(value(text, 'commucat_handshake_duration_seconds_sum{result="ok"}'), 0.02);
  assert.equal(value(text, "commucat_frames_ingress_total"), 3);
  assert.equal(value(text, "commucat_frames_egress_total"), 1);
  assert.equal(value(text, "commucat_call_voice_frames_total"), 1);
  assert.equal(value(text, "commucat_call_video_frames_total"), 1);
  o.closed!({ connectionId: "a", mode: "websocket", established: true, reason: "bye" });
  o.closed!({ connectionId: "b", mode: "binary", established: false, reason: "failed" });
  text = await metrics.renderMetrics();
  assert.equal(value(text, "commucat_connections_active"), 0);
  assert.equal(value(text, 'commucat_connections{mode="websocket"}'), 0);
  assert.equal(value(text, 'commucat_connections{mode="binary"}'), 0);
});

Deno.test("observer: post-quantum hybrid handshakes are counted apart", async () => {
  const metrics = new Metrics();
  const o = metrics.observer();
  o.handshake!({ connectionId: "a", ok: true, durationMs: 1 });
  o.handshake!({ connectionId: "b", ok: true, durationMs: 1, postQuantum: true });
  o.handshake!({
    connectionId: "c",
    ok: false,
    reason: "pq_busy",
    durationMs: 1,
    postQuantum: true,
  });
  const text = await metrics.renderMetrics();
  assert.equal(value(text, "commucat_security_noise_total"), 2);
  assert.equal(value(text, "commucat_security_pq_total"), 1);
});

Deno.test("two servers in one process keep separate registries", async () => {
  const one = new Metrics();
  const two = new Metrics();
  one.observer().handshake!({ connectionId: "x", ok: true, durationMs: 1 });
  assert.equal(value(await one.renderMetrics(), "commucat_security_noise_total"), 1);
  assert.equal(value(await two.renderMetrics(), "commucat_security_noise_total"), 0);
});

Deno.test("scrape-time sources: offline queue total mirrored, depth read, NaN when unreadable", async () => {
  const stats = { enqueued: 0, keepFailures: 0 };
  let depth: number | Error = 4;
  const metrics = new Metrics({
    offlineQueue: {
      stats,
      count: () => depth instanceof Error ? Promise.reject(depth) : Promise.resolve(depth),
    },
  });
  stats.enqueued = 7;
  stats.keepFailures = 2;
  let text = await metrics.renderMetrics();
  assert.equal(value(text, "commucat_relay_enqueued_total"), 7);
  assert.equal(value(text, "commucat_relay_queue_depth"), 4);
  assert.equal(value(text, "commucat_offline_queue_write_failures_total"), 2);
  depth = new Error("database is locked");
  text = await metrics.renderMetrics();
  assert.ok(Number.isNaN(value(text, "commucat_relay_queue_depth")));
});

Deno.test("route delay per delivery and the event loop's delay", async () => {
  const metrics = new Metrics({ version: "9.9.9" });
  const observer = metrics.observer();
  observer.routeDelay!(0.004, 3);
  observer.routeDelay!(-1, 1);
  metrics.loopDelay.observe(0.02);
  const text = await metrics.renderMetrics();
  assert.equal(value(text, "commucat_route_delay_seconds_count"), 3);
  assert.equal(value(text, 'commucat_route_delay_seconds_bucket{le="0.003"}'), 0);
  assert.equal(value(text, 'commucat_route_delay_seconds_bucket{le="0.005"}'), 3);
  assert.ok(Math.abs(value(text, "commucat_route_delay_seconds_sum") - 0.012) < 1e-9);
  assert.equal(value(text, 'commucat_event_loop_delay_seconds_bucket{le="0.015"}'), 0);
  assert.equal(value(text, 'commucat_event_loop_delay_seconds_bucket{le="0.02"}'), 1);
});

Deno.test("routing, rate limits and the typed accessors", async () => {
  const metrics = new Metrics({ version: "9.9.9" });
  metrics.observeRouting(0.003);
  metrics.observeRouting(-1);
  metrics.observeRouting(Number.NaN);
  metrics.rateLimitDenied("http");
  metrics.rateLimitDenied("pairing_claim");
  metrics.rateLimitDenied("connect");
  metrics.upstreamCounter("deviceRotations").inc();
  metrics.upstreamGauge("callsActive").set(2);
  assert.throws(() => metrics.upstreamCounter("callsActive"), TypeError);
  assert.throws(() => metrics.upstreamGauge("callsTotal"), TypeError);
  const text = await metrics.renderMetrics();
  assert.equal(value(text, "commucat_routing_latency_seconds_count"), 1);
  assert.equal(value(text, 'commucat_routing_latency_seconds_bucket{le="0.005"}'), 1);
  assert.equal(value(text, 'commucat_rate_limit_denials_total{scope="pairing_claim"}'), 1);
  assert.equal(value(text, "commucat_rate_limit_http_total"), 2);
  assert.equal(value(text, "commucat_rate_limit_connect_total"), 1);
  assert.equal(value(text, "commucat_device_rotations_total"), 1);
  assert.equal(value(text, "commucat_calls_active"), 2);
  assert.equal(value(text, 'commucat_build_info{version="9.9.9"}'), 1);
  assert.ok(value(text, "process_start_time_seconds") * 1000 <= Date.now());
});

Deno.test("combineObservers forwards every event to each observer", () => {
  const seen: string[] = [];
  const a = combineObservers(
    { frameIn: (t) => seen.push(`a${t}`) },
    { frameIn: (t) => seen.push(`b${t}`), closed: (i) => seen.push(i.reason) },
  );
  a.frameIn!(3);
  a.closed!({ connectionId: "c", mode: "sse", established: false, reason: "gone" });
  a.opened!({ connectionId: "c", mode: "sse" });
  assert.deepEqual(seen, ["a3", "b3", "gone"]);
});

Deno.test("admin token verifier and bearer parsing", () => {
  assert.equal(adminTokenVerifier(undefined), null);
  assert.equal(adminTokenVerifier(""), null);
  const verify = adminTokenVerifier("correct-horse-battery")!;
  assert.equal(verify("correct-horse-battery"), true);
  assert.equal(verify("correct-horse-batter"), false);
  assert.equal(verify(""), false);
  const req = (authorization?: string) =>
    new Request("https://x/metrics", authorization ? { headers: { authorization } } : {});
  assert.equal(bearerToken(req()), null);
  assert.equal(bearerToken(req("Bearer abc")), "abc");
  assert.equal(bearerToken(req("bearer   abc ")), "abc");
  assert.equal(bearerToken(req("abc")), "abc");
  assert.equal(bearerToken(req("Bearer ")), null);
});

Deno.test("serveMetrics: 401 problems, 405 for other methods, HEAD without a body", async () => {
  const metrics = new Metrics();
  const verify = adminTokenVerifier("tok-0123456789abcdef");
  const req = (method: string, authorization?: string) =>
    new Request("https://x/metrics", { method, headers: authorization ? { authorization } : {} });
  const none = await serveMetrics(req("GET", "Bearer tok-0123456789abcdef"), metrics, null);
  assert.equal(none.status, 401);
  assert.match((await none.json()).detail, /admin\.token/);
  assert.equal((await serveMetrics(req("GET"), metrics, verify)).status, 401);
  assert.equal((await serveMetrics(req("GET", "Bearer nope"), metrics, verify)).status, 401);
  const post = await serveMetrics(req("POST", "Bearer tok-0123456789abcdef"), metrics, verify);
  assert.equal(post.status, 405);
  await post.body?.cancel();
  const head = await serveMetrics(req("HEAD", "Bearer tok-0123456789abcdef"), metrics, verify);
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  const ok = await serveMetrics(req("GET", "Bearer tok-0123456789abcdef"), metrics, verify);
  assert.equal(ok.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.match(await ok.text(), /^# TYPE commucat_connections_active gauge$/m);
});
