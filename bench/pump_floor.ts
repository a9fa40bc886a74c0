/**
 * What the guarded accept path's loopback pump costs per message: ours
 * against the least a pump can be, and CommuCat's two accept modes against
 * each other, in alternated rounds with the same client (the load tool's
 * Nagle-free worker, `deno-nodelay`) and window as `bench load`. Servers
 * (`--servers`):
 *
 * - `relay`: the load tool's TLS relay with acks (bench/load/relay_server.ts)
 *   on `Deno.serve`'s public port (the direct path's floor);
 * - `relay+minimal`: the same behind bench/load/relay_pump.ts's minimal pump
 *   (one `async` loop and one 64 KiB buffer per direction: the guarded floor
 *   of the load report);
 * - `relay+guarded`: the same behind CommuCat's own `TcpListener`
 *   (src/transport/tls_tcp.ts: its caps, first-request timer and
 *   `LoopbackEngine` pump);
 * - `commucat-guarded`, `commucat-direct`: `commucat serve` in each
 *   `server.accept` mode (the load tool's pairs).
 *
 * Per phase: server CPU-µs per delivered message, and its system calls per
 * delivered message (`perf stat` tracepoints over the window, every thread):
 * on this shared machine the counts are the figures that do not move with
 * the neighbours. `--rates max,2000`: each server at max, then paced at 2,000
 * delivered/s (the same absolute rate for all: CPU per message falls as a
 * busier server reads more per call, so servers at different max rates are
 * compared at one paced rate). `--payload 100,260`: 100 B (the relay floor's
 * messages, every TLS record under 256 B) and 260 B (records of ~290 B, the
 * size of CommuCat's padded 1:1 frames); CommuCat sends the load tool's
 * payload inside its own frames whatever the size.
 *
 *   flock /work/wt/_notes/bench.lock scripts/deno run --allow-all bench/pump_floor.ts \
 *     [--rounds 2] [--servers relay,relay+minimal,commucat-guarded,commucat-direct]
 *     [--rates max,2000] [--payload 100] [--duration 5] [--pairs 50] [--durable-copy-ms 5000]
 *     [--perf DIR]   (a perf record of each server over each window: DIR/<server>-<rate>-r<round>)
 *
 * The servers run on core 0, this driver and its worker on core 1 (`taskset`).
 *
 * @module
 */
import { acceptEnv } from "./load/accept_modes.ts";
import { type LocalhostCertificate, makeCertificate } from "./localhost_cert.ts";
import type { OpenResult, TargetJson } from "./load/agent.ts";
import { startClientSide } from "./load/client_side.ts";
import { bothHooks, keptCopiesHooks } from "./load/kept_copies.ts";
import type { LoadOptions } from "./load/options.ts";
import { pinProcess } from "./load/pin.ts";
import type { RelayPump } from "./load/relay_pump.ts";
import type { TrafficSummary } from "./load/report_types.ts";
import { RunContext } from "./load/run_context.ts";
import { withPqPin } from "./load/server_under_test.ts";
import { perfRecord, spawnCommuCat, spawnRelay } from "./load/spawn.ts";
import { SOCKET_SYSCALLS, syscallCounter } from "./load/syscall_count.ts";
import { openPairs } from "./load/traffic_phases.ts";
import { type MeasureHooks, measureTraffic } from "./load/traffic_window.ts";

/** What `--servers` names. */
const SERVERS = [
  "relay",
  "relay+minimal",
  "relay+guarded",
  "commucat-guarded",
  "commucat-direct",
] as const;
type Server = typeof SERVERS[number];

const SERVER_CORE = "0";
const CLIENT_CORE = "1";

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};

/** A server of one row, its pairs open on the client: measure, then stop. */
interface Opened {
  pid: number;
  /** CommuCat's target (its `/healthz` counts the durable copies written); null for a relay. */
  target: TargetJson | null;
  stop(): Promise<void>;
}

async function openRelay(
  ctx: RunContext,
  pump: RelayPump | undefined,
  cert: LocalhostCertificate,
): Promise<Opened> {
  const relay = await spawnRelay(cert, SERVER_CORE, undefined, pump);
  await ctx.onAll<OpenResult>(ctx.o.pairs, (_, share) =>
    share === 0 ? null : {
      cmd: "openRawGroups",
      url: relay.url,
      caCerts: [cert.pem],
      groups: share,
      groupSize: 2,
      acks: true,
    });
  return { pid: relay.pid, target: null, stop: relay.stop };
}

async function openCommuCat(
  ctx: RunContext,
  accept: "guarded" | "direct",
  env: Record<string, string>,
): Promise<Opened> {
  const server = await spawnCommuCat({ env: { ...env, ...acceptEnv(accept) }, cpus: SERVER_CORE });
  const target = await withPqPin(server.target);
  await openPairs(ctx, `commucat-${accept}`, { target });
  return {
    pid: server.pid,
    target,
    stop: async () => {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** One table row: the phase's figures and its system calls per delivered message. */
function row(
  head: (string | number)[],
  t: TrafficSummary,
  durationMs: number,
  counts: Record<string, number>,
): string {
  const delivered = t.deliveredPerSecond * durationMs / 1000;
  const us = t.serverCpuSeconds !== null ? t.serverCpuSeconds / delivered * 1e6 : NaN;
  const kept = t.keptCopies?.writtenShare;
  const perMsg = SOCKET_SYSCALLS.map((s) => ((counts[s] ?? NaN) / delivered).toFixed(2));
  return `| ${
    [
      ...head,
      Math.round(t.deliveredPerSecond),
      us.toFixed(2),
      (t.serverCores ?? NaN).toFixed(2),
      (t.clientCores ?? NaN).toFixed(2),
      ((t.serverRunQueueWait ?? NaN) * 1000).toFixed(0),
      kept === undefined || kept === null ? "–" : `${(kept * 100).toFixed(1)}%`,
      ...perMsg,
    ].join(" | ")
  } |`;
}

if (import.meta.main) {
  const rounds = Number(arg("rounds", "2"));
  const servers = arg("servers", "relay,relay+minimal,commucat-guarded,commucat-direct")
    .split(",") as Server[];
  for (const s of servers) {
    if (!SERVERS.includes(s)) throw new Error(`--servers: each one of ${SERVERS.join(", ")}`);
  }
  const rates = arg("rates", "max,2000").split(",").map((r) => r === "max" ? null : Number(r));
  const payloads = arg("payload", "100").split(",").map(Number);
  // `--durable-copy-ms 5000`: CommuCat's durable-copy window (default 200 ms) long enough that no
  // copy is written in either mode, so a slower phase (latency over the window) does not also pay
  // the offline queue's writes: the accept path's cost alone.
  const durableMs = arg("durable-copy-ms", "");
  const perfDir = arg("perf", "");
  const commucatEnv: Record<string, string> = durableMs
    ? { COMMUCAT_DURABLE_COPY_DELAY_MS: durableMs }
    : {};
  const options: LoadOptions = {
    scenarios: ["pairs"],
    mode: "websocket",
    pattern: "XK",
    workers: 1,
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
  await pinProcess(CLIENT_CORE);
  const client = await startClientSide("deno-nodelay", 1, CLIENT_CORE);
  for (const note of client.notes) console.log(note);
  console.log(
    `| round | payload B | server | rate asked | delivered/s | server CPU-µs/msg | server cores | client cores | run-queue wait ms/s | copies written | ${
      SOCKET_SYSCALLS.map((s) => `${s}/msg`).join(" | ")
    } |`,
  );
  console.log(`|${" --- |".repeat(10 + SOCKET_SYSCALLS.length)}`);
  // Made last before the try so that its finally always removes the directory.
  const cert = await makeCertificate();
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate the order so neither server always runs first (or after the other's heat).
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const payloadBytes of payloads) {
        for (const server of order) {
          const ctx = new RunContext({ ...options, payloadBytes }, client.agents, 1);
          const opened = server.startsWith("commucat-")
            ? await openCommuCat(
              ctx,
              server === "commucat-guarded" ? "guarded" : "direct",
              commucatEnv,
            )
            : await openRelay(
              ctx,
              server === "relay" ? undefined : server.slice("relay+".length) as RelayPump,
              cert,
            );
          try {
            for (const rate of rates) {
              const perf = syscallCounter(opened.pid);
              const kept = opened.target ? keptCopiesHooks(opened.target) : null;
              const name = `${server}-${rate ?? "max"}-r${round}`;
              let recording: ReturnType<typeof perfRecord> | null = null;
              const profile: MeasureHooks | undefined = perfDir
                ? {
                  start: () => void (recording = perfRecord(opened.pid, perfDir, name)),
                  stop: async () => void await recording?.stop(),
                }
                : undefined;
              const counted = bothHooks(profile, perf.hooks);
              const t = await measureTraffic(
                ctx,
                server,
                opened.pid,
                rate,
                options.pairs * 2,
                kept ? bothHooks(counted, kept.hooks) : counted,
              );
              if (kept) t.keptCopies = kept.result();
              const head = [round, payloadBytes, server, rate === null ? "max" : rate];
              console.log(row(head, t, options.durationMs, perf.counts()));
            }
          } finally {
            await ctx.closeGroups();
            await opened.stop();
          }
        }
      }
    }
  } finally {
    await Deno.remove(cert.dir, { recursive: true });
    await Promise.all(client.agents.map((a) => a.close()));
  }
}
