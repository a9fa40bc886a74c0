/**
 * New-device handshakes in one process, without sockets (issue 18): the real
 * server (`startServer`: handshake gate, observers with their counters,
 * metrics and log line, SQLite) and SDK clients whose `websocket` channel is
 * an in-memory pipe into a real {@link ServerConnection}
 * (`bench/inprocess_pipe.ts`). Each handshake is one new device's XK
 * handshake, as `bench load --scenario handshake`; the client then closes and
 * the next starts once the server connection is done. Device keys are made
 * before the measured part.
 *
 * What it is for: deterministic instruction counts of our per-handshake work
 * (`bench/callgrind_handshakes.sh`), where a socket run on this shared
 * machine measures the neighbours too. The client's side (SDK, Noise) is in
 * the count as well; Deno's TLS and WebSocket set-up and the `/connect` route
 * (`bench/connect_route.ts`) are not. The server logs as configured by
 * `--log-level` (default `info`, the server's default, written to a discarding
 * sink; `warning` is what the load tool runs).
 *
 *   scripts/deno run -A bench/inprocess_handshakes.ts [--handshakes 500] [--warm 200]
 *     [--log-level info|warning] [--profile out.cpuprofile]
 *   bench/callgrind_handshakes.sh 100 > a; bench/callgrind_handshakes.sh 300 > b  # (b − a) / 200
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { CommuCatClient } from "../src/client/mod.ts";
import { generateDeviceKeys } from "../src/crypto/mod.ts";
import { createLogger, type LogLevel } from "../src/server/mod.ts";
import type { ServerConnection } from "../src/session/mod.ts";
import { pipeChannel } from "./inprocess_pipe.ts";
import {
  clientOptions,
  gate as gateAt,
  startBenchServer,
  startProfiler,
  stretchLongTimers,
} from "./inprocess_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    handshakes: { type: "string", default: "500" },
    warm: { type: "string", default: "200" },
    "log-level": { type: "string", default: "info" },
    gate: { type: "string" },
    profile: { type: "string" },
  },
});
const HANDSHAKES = Number(args.values.handshakes);
const WARM = Number(args.values.warm);
const LOG_LEVEL = args.values["log-level"] as LogLevel;
const GATE = args.values.gate;
const PROFILE = args.values.profile;

const realSetTimeout = stretchLongTimers();

async function main(): Promise<void> {
  let logged = 0;
  const log = createLogger({
    level: LOG_LEVEL,
    format: "json",
    write: () => void logged++,
  });
  const bench = await startBenchServer(log, "commucat-handshakes-");
  const { server } = bench;
  let serial = 0;
  const handshake = async (keys: { privateKey: Uint8Array }) => {
    const n = serial++;
    let connection: ServerConnection | undefined;
    const channel = () => Promise.resolve(pipeChannel(server, (c) => (connection = c)));
    const client = await CommuCatClient.connect(
      clientOptions(server, "hs", n, keys.privateKey, channel),
    );
    client.close();
    await connection?.done;
  };
  try {
    const warmKeys = Array.from({ length: WARM }, generateDeviceKeys);
    for (const keys of warmKeys) await handshake(keys);
    const keys = Array.from({ length: HANDSHAKES }, generateDeviceKeys);
    logged = 0;
    if (GATE) await gateAt(GATE, "ready", "go", realSetTimeout);
    const profiler = PROFILE ? await startProfiler() : null;
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (const k of keys) await handshake(k);
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (profiler) await Deno.writeTextFile(PROFILE!, JSON.stringify(await profiler()));
    if (GATE) await gateAt(GATE, "done", "end", realSetTimeout);
    console.log(JSON.stringify({
      handshakes: HANDSHAKES,
      logLevel: LOG_LEVEL,
      linesLogged: logged,
      ms: Math.round(ms),
      cpuUsPerHandshake: Number(((used.user + used.system) / HANDSHAKES).toFixed(1)),
    }));
  } finally {
    globalThis.setTimeout = realSetTimeout;
    await bench.close();
  }
}

await main();
// Timers armed while stretched would hold the process open.
Deno.exit(0);
