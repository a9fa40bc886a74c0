/**
 * The 1:1 delivery path in one process, without sockets (issue 18): the real
 * server (`startServer`: router, offline queue and its durable-copy window,
 * registry, metrics observers, SQLite), SDK clients whose `websocket`
 * channel is an in-memory pipe into a real {@link ServerConnection}, and
 * rounds of pair traffic like `bench load --scenario pairs`: in each round
 * every client sends one 100-byte Msg on its pair's channel (a due delivery
 * ack riding along), then waits for its partner's. Each write reaches the
 * server as its own copy (a WebSocket message) in its own microtask; the
 * round ends with a timer turn (the owed cumulative Acks' flush).
 *
 * What it is for: deterministic instruction counts of our per-message work
 * (`valgrind --tool=callgrind`), where a socket run on this shared machine
 * measures the neighbours too. The clients' work (SDK, Noise, framing) is in
 * the count as well. `bench/callgrind_pairs.sh ROUNDS` counts only the
 * measured rounds; take two round counts and divide the difference by the
 * deliveries' difference:
 *
 *   scripts/deno run -A bench/inprocess_pairs.ts [--rounds 2000] [--pairs 4] [--warm 500]
 *     [--profile out.cpuprofile]   (a V8 CPU profile of the measured rounds)
 *   bench/callgrind_pairs.sh 100; bench/callgrind_pairs.sh 600   # per delivery: (b − a) / 4000
 *
 * Timers of 10 ms or more (the SDK's 20 ms delivery-ack delay, the 200 ms
 * durable-copy window's sweep, keepalives) never fire here (~25 days), so how
 * slowly the run goes (valgrind) cannot change what is sent: at the load
 * tool's rates acks ride along with the next send and copies are
 * acknowledged long inside the window, as here. Prints the deliveries, the
 * wall time and the process CPU per delivery of the measured rounds.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CommuCatClient } from "../src/client/mod.ts";
import { generateDeviceKeys } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { pipeChannel } from "./inprocess_pipe.ts";
import {
  befriend,
  clientOptions,
  inspectorPost,
  measureRounds,
  startBenchServer,
  startProfiler,
  stretchLongTimers,
} from "./inprocess_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "2000" },
    warm: { type: "string", default: "500" },
    pairs: { type: "string", default: "4" },
    profile: { type: "string" },
    "alloc-profile": { type: "string" },
    gate: { type: "string" },
  },
});
const ROUNDS = Number(args.values.rounds);
const WARM = Number(args.values.warm);
const PAIRS = Number(args.values.pairs);
const PAYLOAD_BYTES = 100;
const PROFILE = args.values.profile;
const ALLOC_PROFILE = args.values["alloc-profile"];
const GATE = args.values.gate;

const realSetTimeout = stretchLongTimers();

/**
 * `--alloc-profile FILE`: V8's sampling heap profile of the measured rounds
 * (every 256 bytes allocated, garbage included: what feeds the scavenges),
 * for `bench/alloc_summary.ts`.
 */
async function startAllocProfiler(): Promise<() => Promise<unknown>> {
  const post = inspectorPost();
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => ((await post("HeapProfiler.stopSampling")) as { profile: unknown }).profile;
}

async function main(): Promise<void> {
  const bench = await startBenchServer();
  const { server } = bench;
  const clients: CommuCatClient[] = [];
  try {
    for (let i = 0; i < 2 * PAIRS; i++) {
      const { privateKey } = generateDeviceKeys();
      const channel = () => Promise.resolve(pipeChannel(server));
      clients.push(
        await CommuCatClient.connect(clientOptions(server, "bench", i, privateKey, channel)),
      );
    }
    const channelOf = (i: number) => 100 + (i >> 1);
    for (let p = 0; p < PAIRS; p++) {
      const [a, b] = [clients[2 * p], clients[2 * p + 1]];
      await befriend(bench, a, b, channelOf(2 * p), `bench-${2 * p + 1}`, PAYLOAD_BYTES);
    }
    const payload = new Uint8Array(PAYLOAD_BYTES);
    let delivered = 0;
    const round = async () => {
      for (let i = 0; i < clients.length; i++) {
        // As the load tool: send() waits for the server's Ack (not awaited here).
        clients[i].send(channelOf(i), payload).catch(() => {});
      }
      for (const client of clients) {
        const frame = await client.next();
        if (frame?.type !== FrameType.Msg) throw new Error(`expected a Msg, got ${frame?.type}`);
        delivered++;
      }
      await new Promise((resolve) => realSetTimeout(resolve, 0));
    };
    const { ms, cpu: used } = await measureRounds(round, {
      warm: WARM,
      rounds: ROUNDS,
      gate: GATE,
      realSetTimeout,
      afterWarm: () => delivered = 0,
      profiles: [
        PROFILE ? { file: PROFILE, start: startProfiler } : null,
        ALLOC_PROFILE ? { file: ALLOC_PROFILE, start: startAllocProfiler } : null,
      ],
    });
    console.log(JSON.stringify({
      pairs: PAIRS,
      rounds: ROUNDS,
      delivered,
      ms: Math.round(ms),
      cpuUsPerDelivery: Number(((used.user + used.system) / delivered).toFixed(2)),
      heldCopies: server.router.offlineQueue.heldCopies,
      kept: server.router.offlineQueue.stats.kept,
    }));
  } finally {
    globalThis.setTimeout = realSetTimeout;
    for (const client of clients) client.close();
    await bench.close();
  }
}

await main();
// Timers armed while stretched would hold the process open.
Deno.exit(0);
