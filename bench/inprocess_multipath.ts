/**
 * Multipath pairs in one process, without sockets (issue 18): like
 * `bench/inprocess_pairs.ts` (the real server, SDK clients over in-memory
 * pipes), but every session runs over `--paths` paths (default 3: the load
 * tool's multipath phase has three), each an in-memory pipe into the
 * server's `/connect` (the first) or `/connect?attach` handling, and each
 * client sends `--window` messages per round (the load tool's window: 8,
 * so a client's turn is one RaptorQ object as there). `--paths 1` is the
 * single-path reference with the same rounds. Clients and server use the
 * RaptorQ Worker, as the load tool and the server do.
 *
 * What it is for: instruction counts (`valgrind --tool=callgrind`) of the
 * multipath path against one path, where socket runs on this shared
 * machine measure the neighbours. What it leaves out: the transports
 * themselves (Deno's WebSocket, HTTP/2 and SSE framing, TLS, the kernel),
 * which every copy pays in a real run; and time: timers of 10 ms or more
 * never fire (no ACK timer, retransmission timeout or FEC source grace; an
 * ACK rides on data at most every 25 ms of wall time, so a slow run rides
 * more of them than a fast one).
 *
 *   scripts/deno run -A bench/inprocess_multipath.ts [--paths 3] [--window 8]
 *     [--rounds 300] [--pairs 4] [--warm 100] [--profile out.cpuprofile]
 *   bench/callgrind_pairs.sh-style: BENCH=bench/inprocess_multipath.ts ARGS="--paths 3"
 *     bench/callgrind_multipath.sh ROUNDS
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CommuCatClient } from "../src/client/mod.ts";
import type { ClientChannel } from "../src/client/channel.ts";
import { generateDeviceKeys } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import type { RunningServer } from "../src/server/mod.ts";
import { AttachingPath, raptorqCodec } from "../src/multipath/mod.ts";
import {
  befriend,
  clientOptions,
  measureRounds,
  startBenchServer,
  startProfiler,
  stretchLongTimers,
} from "./inprocess_harness.ts";
import { Downstream, pipeChannel, PipeLink } from "./inprocess_pipe.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "300" },
    warm: { type: "string", default: "100" },
    paths: { type: "string", default: "3" },
    window: { type: "string", default: "8" },
    pairs: { type: "string", default: "4" },
    profile: { type: "string" },
    gate: { type: "string" },
  },
});
const ROUNDS = Number(args.values.rounds);
const WARM = Number(args.values.warm);
const PAIRS = Number(args.values.pairs);
const PATHS = Number(args.values.paths);
const WINDOW = Number(args.values.window);
const PAYLOAD_BYTES = 100;
const PROFILE = args.values.profile;
const GATE = args.values.gate;

const realSetTimeout = stretchLongTimers();

/** An attaching connection's pipe (`/connect?attach`): its first unit names the session. */
function attachChannel(server: RunningServer): ClientChannel {
  const down = new Downstream();
  const link = new PipeLink(down);
  const path = new AttachingPath(link, server.connect.deps.multipath!, () => {});
  return {
    mode: "websocket",
    write(bytes) {
      const copy = bytes.slice();
      queueMicrotask(() => path.receive(copy));
    },
    chunks: { [Symbol.asyncIterator]: () => down },
    end: () => path.closed(),
    close: () => path.closed(),
  };
}

async function main(): Promise<void> {
  const bench = await startBenchServer();
  const { server } = bench;
  const clients: CommuCatClient[] = [];
  const fec = raptorqCodec("worker");
  try {
    for (let i = 0; i < 2 * PAIRS; i++) {
      const { privateKey } = generateDeviceKeys();
      const channel = (url: string) =>
        Promise.resolve(url.includes("attach") ? attachChannel(server) : pipeChannel(server));
      clients.push(
        await CommuCatClient.connect({
          ...clientOptions(server, "bench", i, privateKey, channel),
          paths: PATHS > 1 ? Array(PATHS - 1).fill("websocket") : undefined,
          fec: PATHS > 1 ? fec : undefined,
        }),
      );
      // (waitForPaths polls with a 10 ms timer, which never fires here.)
      while ((clients[i].paths ?? []).filter((p) => p.state === "up").length < PATHS) {
        if (PATHS === 1) break;
        await new Promise((resolve) => realSetTimeout(resolve, 1));
      }
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
        for (let w = 0; w < WINDOW; w++) clients[i].send(channelOf(i), payload).catch(() => {});
      }
      for (const client of clients) {
        for (let w = 0; w < WINDOW; w++) {
          const frame = await client.next();
          if (frame?.type !== FrameType.Msg) throw new Error(`expected a Msg, got ${frame?.type}`);
          delivered++;
        }
      }
      await new Promise((resolve) => realSetTimeout(resolve, 0));
    };
    const { ms, cpu: used } = await measureRounds(round, {
      warm: WARM,
      rounds: ROUNDS,
      gate: GATE,
      realSetTimeout,
      afterWarm: () => delivered = 0,
      profiles: [PROFILE ? { file: PROFILE, start: startProfiler } : null],
    });
    console.log(JSON.stringify({
      pairs: PAIRS,
      paths: PATHS,
      window: WINDOW,
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
    fec.close();
    await bench.close();
  }
}

await main();
// Timers armed while stretched would hold the process open.
Deno.exit(0);
