/**
 * `commucat bench load`: the load generator (bench/load/). Starts a server
 * (or targets a running one), drives it through the client SDK, measures raw
 * baselines in the same run and reports throughput, latency, CPU and memory
 * against the performance budgets.
 *
 * @module
 */
import { ACCEPT_CHOICES, type AcceptChoice } from "../bench/load/accept_modes.ts";
import { CLIENT_WEBSOCKETS, type ClientWebSocket } from "../bench/load/agent.ts";
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { fromHex, SESSION_PATTERN_NAMES, toHex } from "../src/crypto/mod.ts";
import { renderLatencySvg, renderMarkdown } from "../bench/load/report.ts";
import { runLoad, type Scenario, SCENARIOS } from "../bench/load/run.ts";
import { cpuCount, defaultCpuPlan, tasksetAvailable } from "../bench/load/pin.ts";
import { measureTranscoding } from "../bench/transcode.ts";
import { errorLine, messageOf } from "./errors.ts";

function positive(name: string, zeroOk = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) {
      throw new InvalidArgumentError(
        `--${name} must be a ${zeroOk ? "non-negative" : "positive"} integer`,
      );
    }
    return n;
  };
}

function seconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`--${name} must be positive seconds`);
    }
    return n;
  };
}

function cpuList(value: string): string {
  try {
    if (cpuCount(value) < 1) throw new Error("empty");
  } catch {
    throw new InvalidArgumentError(`not a CPU list (e.g. 0 or 1-3): "${value}"`);
  }
  return value;
}

function stormPatterns(value: string): string[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const p of list) {
    if (!SESSION_PATTERN_NAMES.includes(p)) {
      throw new InvalidArgumentError(
        `unknown pattern "${p}" (choose from ${SESSION_PATTERN_NAMES.join(", ")})`,
      );
    }
  }
  if (list.length === 0) throw new InvalidArgumentError("name at least one pattern");
  return list;
}

function scenarios(value: string): Scenario[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of list) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new InvalidArgumentError(
        `unknown scenario "${s}" (choose from ${SCENARIOS.join(", ")})`,
      );
    }
  }
  return list as Scenario[];
}

/** A one-line progress display on stderr (rewritten in place on a terminal). */
function progressLine(): { update(line: string): void; done(): void } {
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  let last = "";
  let lastAt = 0;
  return {
    update(line) {
      const now = Date.now();
      if (!tty && line.split(":")[0] === last.split(":")[0] && now - lastAt < 2_000) return;
      last = line;
      lastAt = now;
      Deno.stderr.writeSync(encoder.encode(tty ? `\r\x1b[K${line}` : `${line}\n`));
    },
    done() {
      if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    },
  };
}

/** Adds `bench load`. */
export function registerBenchCommand(program: Command): void {
  const bench = program.command("bench").description("benchmarks against a running server");
  bench.command("transcode")
    .description(
      "call transcoding capacity per core: RAW→Opus and I420→VP8 in the server's Workers",
    )
    .option("--seconds <n>", "media seconds encoded per codec", seconds("seconds"), 5)
    .action(async (o) => {
      const figures = await measureTranscoding(o.seconds);
      console.log("| stream | frames | wall s | real-time streams per core |");
      console.log("| --- | --- | --- | --- |");
      for (const f of figures) {
        console.log(
          `| ${f.what} | ${f.frames} | ${f.seconds.toFixed(2)} | ${f.realtimeStreams.toFixed(1)} |`,
        );
      }
    });
  bench.command("load")
    .description(
      "load generator: handshakes/s, delivered msg/s, delivery latency, server CPU and memory, " +
        "against a raw WebSocket relay and the handshake primitive bound measured in the same run",
    )
    .option(
      "--scenario <list>",
      `comma-separated scenarios: ${SCENARIOS.join(", ")}`,
      scenarios,
      [...SCENARIOS] as Scenario[],
    )
    .addOption(
      new Option("--mode <mode>", "connect mode").choices([
        "websocket",
        "binary",
        "sse",
        "long-poll",
      ])
        .default("websocket"),
    )
    .addOption(
      new Option("--pattern <pattern>", "Noise pattern").choices(SESSION_PATTERN_NAMES).default(
        "XK",
      ),
    )
    .option(
      "--storm-patterns <list>",
      "handshake storm once per pattern, e.g. XK,XKhfs,IK,IKhfs (server CPU per hybrid ÷ " +
        "classical handshake in one run)",
      stormPatterns,
    )
    .option("--pairs <n>", "1:1 pairs for the pairs/reconnect scenarios", positive("pairs"), 50)
    .option("--groups <n>", "groups for the fanout scenario", positive("groups"), 10)
    .option("--group-size <n>", "members per fanout group (G)", positive("group-size"), 10)
    .option("--handshakes <n>", "new devices in the handshake storm", positive("handshakes"), 2000)
    .option("--concurrency <n>", "connects in flight at once", positive("concurrency"), 64)
    .option(
      "--idle-connections <n>",
      "idle established connections for the memory measurement (0 = skip)",
      positive("idle-connections", true),
      10_000,
    )
    .option("--warmup <seconds>", "warm-up before each measured window", seconds("warmup"), 1)
    .option("--duration <seconds>", "measured window of each traffic phase", seconds("duration"), 5)
    .option("--window <n>", "messages a sender may have in flight", positive("window"), 8)
    .option(
      "--workers <n>",
      "client load in N worker processes (0 = in this process; deno-nodelay uses at least 1)",
      positive("workers", true),
      0,
    )
    .option(
      "--no-pin",
      "do not pin: by default the server and the relay run on core 0 and the client on core 1 " +
        "(taskset), so each ratio is one server core against one relay core",
    )
    .option("--server-cpus <list>", "cores of the server and the relay (taskset -c list)", cpuList)
    .option("--client-cpus <list>", "cores of the load client (taskset -c list)", cpuList)
    .addOption(
      new Option(
        "--accept <mode>",
        "server.accept of the spawned server; both = the idle, handshake and pairs phases " +
          "again against a direct-mode server, side by side",
      ).choices(ACCEPT_CHOICES).default("guarded"),
    )
    .option("--no-baseline", "skip the raw relay and the handshake primitive bound")
    .option("--tls-baseline", "also measure a raw relay over TLS (same certificate)")
    .option("--url <url>", "target a running server instead of spawning one")
    .option("--cert <path>", "its TLS certificate (PEM), with --url")
    .option("--noise-public <hex>", "its Noise static public key, with --url")
    .option("--domain <domain>", "its domain, with --url", "localhost")
    .option(
      "--server-pid <pid>",
      "its process id (enables CPU/memory sampling)",
      positive("server-pid"),
    )
    .option(
      "--profile <dir>",
      "perf-record the spawned server during the handshake storm and the 1:1 max phase",
    )
    .option(
      "--timeline <dir>",
      "write every traffic phase's deliveries over time (receipt time, latency) and the client's " +
        "pacing stalls to <dir>/<phase>.json (read them with bench/load/timeline.ts)",
    )
    .addOption(
      new Option(
        "--client-websocket <kind>",
        "the load clients' WebSocket: deno-nodelay (the platform's WebSocket in ≥ 1 worker " +
          "process with an LD_PRELOAD shim, bench/load/nodelay_preload.c built with cc, turning " +
          "TCP_NODELAY on; falls back to deno, said in the report, without cc), deno (the " +
          "platform's WebSocket; Nagle's algorithm on: the client's small acks wait for delayed " +
          "ACKs) or nodelay (TCP_NODELAY on, RFC 6455 in TypeScript over Deno.connect: its " +
          "client-side event-loop stalls measured worse, PERFORMANCE.md round 7)",
      ).choices([...CLIENT_WEBSOCKETS]).default("deno-nodelay"),
    )
    .option(
      "--server-v8-flags <flags>",
      "extra V8 flags of the spawned servers, comma-separated (e.g. --trace-gc,--max-semi-space-size=32)",
      (value: string) => value.split(",").map((f) => f.trim()).filter((f) => f !== ""),
    )
    .option(
      "--server-log <path>",
      "append the spawned servers' output (stderr, and stdout once started) to <path>",
    )
    .option("--pg-dsn <dsn>", "PostgreSQL of scenario cluster (default: COMMUCAT_TEST_PG_DSN)")
    .option("--redis-url <url>", "Redis of scenario cluster (default: COMMUCAT_TEST_REDIS_URL)")
    .option("--fail-on-miss", "exit with status 1 when a target is not met")
    .option("--json <path>", "write the full report as JSON")
    .option("--chart <path>", "write an SVG chart of the delivery latency CDFs")
    .action(async (options) => {
      let external;
      if (options.url) {
        if (!options.cert || !options.noisePublic) {
          console.error(errorLine("bench load", "--url needs --cert and --noise-public"));
          Deno.exit(2);
        }
        let noisePublicHex: string;
        let certificatePem: string;
        try {
          noisePublicHex = toHex(fromHex(options.noisePublic, 32));
        } catch (error) {
          console.error(errorLine("bench load", `--noise-public: ${messageOf(error)}`));
          Deno.exit(2);
        }
        try {
          certificatePem = await Deno.readTextFile(options.cert);
        } catch (error) {
          console.error(errorLine("bench load", `--cert: ${messageOf(error)}`));
          Deno.exit(2);
        }
        external = {
          target: { url: options.url, domain: options.domain, noisePublicHex, certificatePem },
          pid: options.serverPid,
        };
      }
      if (options.profile) await Deno.mkdir(options.profile, { recursive: true });
      if (options.timeline) await Deno.mkdir(options.timeline, { recursive: true });
      let pin = null;
      if (options.pin) {
        const plan = await defaultCpuPlan();
        if (options.serverCpus || options.clientCpus) {
          if (!(await tasksetAvailable())) {
            console.error(errorLine("bench load", "--server-cpus/--client-cpus need taskset"));
            Deno.exit(2);
          }
          pin = {
            server: options.serverCpus ?? plan?.server ?? "0",
            client: options.clientCpus ?? plan?.client ?? "1",
          };
        } else pin = plan;
        if (!pin) console.error("bench load: not pinned (fewer than 2 cores, or no taskset)");
      }
      const progress = progressLine();
      const report = await runLoad({
        scenarios: options.scenario,
        mode: options.mode as "websocket",
        pattern: options.pattern,
        stormPatterns: options.stormPatterns,
        workers: options.workers,
        pairs: options.pairs,
        groups: options.groups,
        groupSize: options.groupSize,
        handshakes: options.handshakes,
        concurrency: options.concurrency,
        idleConnections: options.idleConnections,
        warmupMs: options.warmup * 1000,
        durationMs: options.duration * 1000,
        window: options.window,
        baseline: options.baseline,
        tlsBaseline: options.tlsBaseline ?? false,
        external,
        profileDir: options.profile,
        timelineDir: options.timeline,
        serverV8Flags: options.serverV8Flags,
        clientWebSocket: options.clientWebsocket as ClientWebSocket,
        serverLog: options.serverLog,
        accept: options.accept as AcceptChoice,
        cluster: { pgDsn: options.pgDsn, redisUrl: options.redisUrl },
        pin,
        progress: progress.update,
      });
      progress.done();
      console.log(renderMarkdown(report));
      if (options.json) {
        await Deno.writeTextFile(options.json, JSON.stringify(report, null, 2) + "\n");
      }
      if (options.chart) {
        const series = [];
        if (report.relay) series.push({ name: "raw relay, max", points: report.relay.max.cdf });
        if (report.relay?.half) {
          series.push({ name: "raw relay, 50%", points: report.relay.half.cdf });
        }
        if (report.pairs) series.push({ name: "CommuCat 1:1, max", points: report.pairs.max.cdf });
        if (report.pairs?.half) {
          series.push({ name: "CommuCat 1:1, 50%", points: report.pairs.half.cdf });
        }
        if (report.fanout) {
          series.push({
            name: `fanout G=${report.config.groupSize}`,
            points: report.fanout.max.cdf,
          });
        }
        await Deno.writeTextFile(options.chart, renderLatencySvg(series));
      }
      // Agents' HTTP clients and timers may linger; the report is out.
      Deno.exit(options.failOnMiss && report.targets.some((t) => t.met === false) ? 1 : 0);
    });
}

if (import.meta.main) {
  // Standalone: `deno run -A cli/bench.ts load …` (before the command is wired into cli/mod.ts).
  const program = new Command().name("commucat");
  registerBenchCommand(program as unknown as Command);
  await program.parseAsync(Deno.args, { from: "user" });
}
