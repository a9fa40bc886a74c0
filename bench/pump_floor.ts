/**
 * What the guarded accept path's loopback pump costs per message, ours
 * against the least a pump can be: the load tool's TLS relay with acks
 * (bench/load/relay_server.ts, 1:1 pairs at max, the same client and
 * window as `bench load`) served three ways, in alternated rounds:
 *
 * - `none`: `Deno.serve` on the public port (the direct path's floor);
 * - `minimal`: behind bench/load/relay_pump.ts's minimal pump (one `async`
 *   loop and one 64 KiB buffer per direction: the guarded floor of the load
 *   report);
 * - `guarded`: behind CommuCat's own `TcpListener` (src/transport/tls_tcp.ts:
 *   its caps, first-request timer and `LoopbackEngine` pump).
 *
 * Relay CPU-µs per delivered message of each; `guarded − minimal` is ours in
 * the pump. `--payload 100,260`: message sizes (100 B: the load tool's relay
 * floor, every TLS record under 256 B; 260 B: records of ~290 B, the size of
 * CommuCat's padded 1:1 frames on the wire).
 *
 *   flock /work/wt/_notes/bench.lock taskset -c 1 scripts/deno run --allow-all \
 *     bench/pump_floor.ts [--rounds 3] [--pumps none,minimal,guarded] [--payload 100,260]
 *     [--duration 5] [--pairs 50]
 *
 * The relay runs on core 0 (`taskset`); run this driver on core 1.
 *
 * @module
 */
import type { OpenResult } from "./load/agent.ts";
import { localAgent } from "./load/fleet.ts";
import type { LoadOptions } from "./load/options.ts";
import type { RelayPump } from "./load/relay_pump.ts";
import { RunContext } from "./load/run_context.ts";
import { spawnRelay } from "./load/spawn.ts";
import { measureTraffic } from "./load/traffic_window.ts";

type Pump = "none" | RelayPump;

/** The syscalls counted per message (`perf stat` tracepoints), when perf can. */
const SYSCALLS = ["recvfrom", "sendto", "read", "write", "epoll_wait"];

/**
 * `perf stat` of `pid`'s syscalls over the measured window: CPU time per
 * message moves with other tenants, syscall counts do not.
 */
function syscallCounter(pid: number) {
  let child: Deno.ChildProcess | null = null;
  let counts: Record<string, number> = {};
  return {
    hooks: {
      start() {
        child = new Deno.Command("perf", {
          args: [
            "stat",
            "-x",
            ",",
            ...SYSCALLS.flatMap((s) => ["-e", `syscalls:sys_enter_${s}`]),
            "-p",
            String(pid),
          ],
          stdout: "null",
          stderr: "piped",
        }).spawn();
      },
      end() {
        try {
          child?.kill("SIGINT");
        } catch { /* ended */ }
      },
      async stop() {
        if (!child) return;
        const out = new TextDecoder().decode((await child.output()).stderr);
        counts = {};
        for (const line of out.split("\n")) {
          const [value, , event] = line.split(",");
          const name = event?.replace("syscalls:sys_enter_", "");
          if (name && SYSCALLS.includes(name)) counts[name] = Number(value);
        }
      },
    },
    counts: () => counts,
  };
}

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};

/** A throwaway self-signed certificate for localhost (openssl). */
async function makeCertificate(): Promise<{ certPath: string; keyPath: string; pem: string }> {
  const dir = await Deno.makeTempDir();
  const certPath = `${dir}/cert.pem`;
  const keyPath = `${dir}/key.pem`;
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!made.success) throw new Error("openssl could not make a certificate");
  return { certPath, keyPath, pem: await Deno.readTextFile(certPath) };
}

if (import.meta.main) {
  const rounds = Number(arg("rounds", "3"));
  const pumps = arg("pumps", "none,minimal,guarded").split(",") as Pump[];
  const payloads = arg("payload", "100,260").split(",").map(Number);
  const cert = await makeCertificate();
  const options: LoadOptions = {
    scenarios: ["pairs"],
    mode: "websocket",
    pattern: "XK",
    workers: 0,
    pairs: Number(arg("pairs", "50")),
    groups: 1,
    groupSize: 2,
    handshakes: 0,
    concurrency: 64,
    idleConnections: 0,
    warmupMs: 1000,
    durationMs: Number(arg("duration", "5")) * 1000,
    window: 8,
    baseline: false,
    tlsBaseline: false,
    progress: () => {},
  };
  const agent = localAgent("deno");
  console.log(
    "| round | payload B | pump | delivered/s | relay CPU-µs/msg | relay cores | run-queue wait ms/s |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const payloadBytes of payloads) {
        for (const pump of pumps) {
          const ctx = new RunContext({ ...options, payloadBytes }, [agent], 1);
          const relay = await spawnRelay(
            { certPath: cert.certPath, keyPath: cert.keyPath },
            "0",
            undefined,
            pump === "none" ? undefined : pump,
          );
          try {
            await ctx.onAll<OpenResult>(options.pairs, () => ({
              cmd: "openRawGroups",
              url: relay.url,
              caCerts: [cert.pem],
              groups: options.pairs,
              groupSize: 2,
              acks: true,
            }));
            const perf = syscallCounter(relay.pid);
            const t = await measureTraffic(
              ctx,
              pump,
              relay.pid,
              null,
              options.pairs * 2,
              perf.hooks,
            );
            const delivered = t.deliveredPerSecond * options.durationMs / 1000;
            const perMsg = SYSCALLS.map((s) => ((perf.counts()[s] ?? NaN) / delivered).toFixed(2));
            const us = t.serverCpuSeconds !== null
              ? t.serverCpuSeconds / (t.deliveredPerSecond * options.durationMs / 1000) * 1e6
              : NaN;
            console.log(
              `| ${round} | ${payloadBytes} | ${pump} | ${Math.round(t.deliveredPerSecond)} | ${
                us.toFixed(2)
              } | ${(t.serverCores ?? NaN).toFixed(2)} | ${
                ((t.serverRunQueueWait ?? NaN) * 1000).toFixed(0)
              } | ${perMsg.join(" | ")} |`,
            );
          } finally {
            await ctx.closeGroups();
            await relay.stop();
          }
        }
      }
    }
  } finally {
    await agent.close();
  }
}
