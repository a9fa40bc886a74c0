/**
 * Cross-instance 1:1 delivery in one process (issue 18, the cross-instance
 * budget): two real servers (`startServer`) sharing a fresh PostgreSQL
 * database and Redis (presence and the bus, as `bench load --scenario
 * cluster`), SDK clients on in-memory pipes (inprocess_pipe.ts) and rounds
 * of pair traffic as in inprocess_pairs.ts. `--mode cross`: each pair has one
 * member on instance A and the other on B, so every message crosses the bus
 * (and its Ack the bus back); `--mode single`: both members on A, the same
 * backends (the budget's reference). The difference of the two per delivery
 * is what crossing costs in our processes (Redis's and PostgreSQL's own CPU
 * is not in it: `bench load` reports them apart).
 *
 *   scripts/deno run -A bench/inprocess_cluster.ts --mode cross [--rounds 2000] [--pairs 4]
 *     [--warm 500] [--window 8] [--profile out.cpuprofile]
 *   bench/callgrind_gated.sh bench/inprocess_cluster.ts --mode cross --pairs 16 --rounds 300 \
 *     --warm 100 --slow-clock 1000
 *
 * Needs `COMMUCAT_TEST_PG_DSN` and `COMMUCAT_TEST_REDIS_URL`. Long timers
 * never fire (inprocess_harness.ts); the presence answers' 1 s cache expires
 * on `Date.now`, so a slow (valgrind) run needs `--slow-clock` or it looks
 * presence up (and takes the admission's asynchronous path) every few rounds.
 * Take two round counts and use the difference, and compare modes at the same
 * round counts. Even so, identical callgrind runs differed by up to ~40% on a
 * loaded machine (round 10): the Redis and PostgreSQL round trips set how much
 * each event-loop turn carries, so the count is not deterministic here as it
 * is for inprocess_pairs.ts; `--promoted-profile`, `--count-bus` and CPU
 * profiles of the two modes in one sitting are the steadier figures.
 * `--window 8` streams like the load tool's pairs instead of rounds (a whole
 * round in one turn made one bus message per instance and round, far from
 * what short turns under load do); `busMessagesPerDelivery` is printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { CommuCatClient } from "../src/client/mod.ts";
import { generateDeviceKeys } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { defaultSettings, type RunningServer, startServer } from "../src/server/mod.ts";
import { pipeChannel, PipeLink } from "./inprocess_pipe.ts";
import {
  befriend,
  clientOptions,
  gate as gateAt,
  inspectorPost,
  startProfiler,
  stretchLongTimers,
  warningsToStderr,
} from "./inprocess_harness.ts";
import { privateDatabase } from "./load/cluster_scenario.ts";
import { RedisBus } from "../src/router/redis_bus.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "cross" },
    rounds: { type: "string", default: "2000" },
    warm: { type: "string", default: "500" },
    pairs: { type: "string", default: "4" },
    profile: { type: "string" },
    /**
     * A sampling heap profile of what outlived the scavenges of the measured
     * rounds (run with --v8-flags=--expose-gc), for bench/alloc_summary.ts.
     */
    "promoted-profile": { type: "string" },
    gate: { type: "string" },
    /**
     * Streamed instead of rounds: every client keeps this many messages in
     * flight to its peer and sends the next as each arrives (as the load
     * tool's pairs do), so deliveries spread over many short turns and the
     * bus messages carry what a turn gathered, not a whole round. 0: rounds.
     */
    window: { type: "string", default: "0" },
    /** Count the bus messages sent, by kind (a wrapper around each send). */
    "count-bus": { type: "boolean", default: false },
    /**
     * Date.now runs this many times slower from the warm-up on (callgrind:
     * 1000), so the presence answers' 1 s cache lasts as long per round as
     * at full speed instead of expiring every few rounds.
     */
    "slow-clock": { type: "string", default: "1" },
    /** Print the servers' info lines too (connections closed…). */
    verbose: { type: "boolean", default: false },
  },
});
const CROSS = args.values.mode === "cross";
if (!CROSS && args.values.mode !== "single") throw new Error("--mode single|cross");
const ROUNDS = Number(args.values.rounds);
const WARM = Number(args.values.warm);
const PAIRS = Number(args.values.pairs);
const PAYLOAD_BYTES = 100;
const WINDOW = Number(args.values.window);
/** The Redis database of the presence keys (pub/sub channels are per instance id). */
const REDIS_DB = 12;

const realSetTimeout = stretchLongTimers();

/** Bus messages sent by kind (`--count-bus`), reset after the warm-up. */
let busSent: Record<string, number> = {};
if (args.values["count-bus"]) {
  const send = RedisBus.prototype.send;
  RedisBus.prototype.send = function (instance, message) {
    busSent[message.kind] = (busSent[message.kind] ?? 0) + 1;
    return send.call(this, instance, message);
  };
  const write = PipeLink.prototype.send;
  PipeLink.prototype.send = function (unit, header) {
    busSent.serverWrites = (busSent.serverWrites ?? 0) + 1;
    return write.call(this, unit, header);
  };
}

const pgDsn = Deno.env.get("COMMUCAT_TEST_PG_DSN");
const redisUrl = Deno.env.get("COMMUCAT_TEST_REDIS_URL");
if (!pgDsn || !redisUrl) throw new Error("set COMMUCAT_TEST_PG_DSN and COMMUCAT_TEST_REDIS_URL");

async function instance(dsn: string, dir: string): Promise<RunningServer> {
  const redis = new URL(redisUrl!);
  redis.pathname = `/${REDIS_DB}`;
  return await startServer(
    defaultSettings({
      hostname: "127.0.0.1",
      port: 0,
      dataDir: dir,
      sqlitePath: `${dir}/commucat.db`,
      storage: { backend: "postgres", dsn, poolSize: 10 },
      presence: { backend: "redis", url: redis.toString() },
      migrate: true,
      pq: "off",
      webClient: false,
      // Every pair's friendship goes through the API from one address.
      rateLimits: {
        http: { burst: 1_000_000, windowMs: 1_000, penaltyMs: 1 },
        connect: { burst: 1_000_000, windowMs: 1_000, penaltyMs: 1 },
        pairing: { burst: 5, windowMs: 60_000, penaltyMs: 120_000 },
      },
    }),
    // Warnings and errors would mean the run is not the path it claims to measure.
    {
      ...warningsToStderr,
      ...(args.values.verbose ? { info: (m, f) => console.error(m, f) } : {}),
    },
  );
}

/** `--promoted-profile`: samples only what a scavenge did not collect; stopped after two more. */
async function startPromotedProfiler(): Promise<() => Promise<unknown>> {
  const gc = (globalThis as { gc?: (options: unknown) => void }).gc;
  if (!gc) throw new Error("--promoted-profile needs --v8-flags=--expose-gc");
  const post = inspectorPost();
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
  return async () => {
    gc({ type: "minor" });
    gc({ type: "minor" });
    return ((await post("HeapProfiler.stopSampling")) as { profile: unknown }).profile;
  };
}

async function main(): Promise<void> {
  const database = await privateDatabase(pgDsn!);
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const servers: RunningServer[] = [];
  const clients: CommuCatClient[] = [];
  const https: Deno.HttpClient[] = [];
  try {
    servers.push(await instance(database.dsn, dirs[0]));
    servers.push(await instance(database.dsn, dirs[1]));
    // Member m of pair p on instance A, or on B when crossing and m is odd.
    const serverOf = (i: number) => servers[CROSS ? i & 1 : 0];
    // Unique per run: kicks (a device connected again) are broadcast to every
    // instance on the Redis server, this run's or not.
    const run = crypto.randomUUID().slice(0, 8);
    const prefix = `bench-${run}`;
    const deviceOf = (i: number) => `${prefix}-${i}`;
    for (const s of servers) https.push(Deno.createHttpClient({ caCerts: [s.certificatePem] }));
    for (let i = 0; i < 2 * PAIRS; i++) {
      const server = serverOf(i);
      const keys = generateDeviceKeys();
      const channel = () => Promise.resolve(pipeChannel(server));
      clients.push(
        await CommuCatClient.connect(clientOptions(server, prefix, i, keys.privateKey, channel)),
      );
    }
    const sideOf = (i: number) => ({
      server: serverOf(i),
      http: https[servers.indexOf(serverOf(i))],
    });
    const channelOf = (i: number) => 100 + (i >> 1);
    const payload = new Uint8Array(PAYLOAD_BYTES);
    for (let p = 0; p < PAIRS; p++) {
      const [x, y] = [2 * p, 2 * p + 1];
      const [a, b] = [clients[x], clients[y]];
      await befriend(sideOf(x), a, b, channelOf(x), deviceOf(y), PAYLOAD_BYTES, sideOf(y));
    }
    const slow = Number(args.values["slow-clock"]);
    if (slow !== 1) {
      const [wall, mono] = [Date.now(), performance.now()];
      Date.now = () => wall + Math.floor((performance.now() - mono) / slow);
    }
    let delivered = 0;
    const round = async () => {
      for (let i = 0; i < clients.length; i++) {
        clients[i].send(channelOf(i), payload).catch(() => {});
      }
      for (const client of clients) {
        const frame = await client.next();
        if (frame?.type !== FrameType.Msg) throw new Error(`expected a Msg, got ${frame?.type}`);
        delivered++;
      }
      await new Promise((resolve) => realSetTimeout(resolve, 0));
    };
    /** `--window`: `rounds` messages received per client, each answered by the next send. */
    const stream = async (rounds: number) => {
      await Promise.all(clients.map(async (client, i) => {
        for (let w = 0; w < WINDOW; w++) client.send(channelOf(i), payload).catch(() => {});
        for (let r = 0; r < rounds; r++) {
          const frame = await client.next();
          if (frame?.type !== FrameType.Msg) throw new Error(`expected a Msg, got ${frame?.type}`);
          delivered++;
          // The last window's worth is not sent: every client ends with nothing in flight.
          if (r < rounds - WINDOW) client.send(channelOf(i), payload).catch(() => {});
        }
      }));
      await new Promise((resolve) => realSetTimeout(resolve, 0));
    };
    const traffic = (rounds: number) =>
      WINDOW > 0 ? stream(rounds) : (async () => {
        for (let r = 0; r < rounds; r++) await round();
      })();
    await traffic(WARM);
    delivered = 0;
    busSent = {};
    if (args.values.gate) await gateAt(args.values.gate, "ready", "go", realSetTimeout);
    const profiler = args.values.profile ? await startProfiler() : null;
    const promoted = args.values["promoted-profile"] ? await startPromotedProfiler() : null;
    const started = performance.now();
    const cpu = process.cpuUsage();
    await traffic(ROUNDS);
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (profiler) await Deno.writeTextFile(args.values.profile!, JSON.stringify(await profiler()));
    if (promoted) {
      await Deno.writeTextFile(args.values["promoted-profile"]!, JSON.stringify(await promoted()));
    }
    if (args.values.gate) await gateAt(args.values.gate, "done", "end", realSetTimeout);
    // With --v8-flags=--expose-gc: what the rounds left alive (a leak grows with --rounds).
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    console.log(JSON.stringify({
      ...(gc ? { heapUsedMiB: Number((Deno.memoryUsage().heapUsed / 2 ** 20).toFixed(1)) } : {}),
      mode: CROSS ? "cross" : "single",
      pairs: PAIRS,
      rounds: ROUNDS,
      delivered,
      ms: Math.round(ms),
      cpuUsPerDelivery: Number(((used.user + used.system) / delivered).toFixed(2)),
      systemUsPerDelivery: Number((used.system / delivered).toFixed(2)),
      carried: servers.map((s) => s.router.offlineQueue.carried.stats),
      busCarriedDelivered: servers.map((s) => s.router.stats.busCarriedDelivered),
      kept: servers.map((s) => s.router.offlineQueue.stats.kept),
      ...(args.values["count-bus"] ? { busSent } : {}),
      busMessagesPerDelivery: Number(
        (servers.reduce((n, s) => n + s.router.offlineQueue.carried.stats.messages, 0) /
          Math.max(1, servers.reduce((n, s) => n + s.router.offlineQueue.carried.stats.sent, 0)))
          .toFixed(3),
      ),
    }));
  } finally {
    globalThis.setTimeout = realSetTimeout;
    for (const client of clients) client.close();
    for (const http of https) http.close();
    for (const server of servers) await server.stop();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    await database.drop().catch(() => {});
  }
}

await main();
// Timers armed while stretched would hold the process open.
Deno.exit(0);
