/**
 * Processes the load generator starts: the real `commucat serve` (spawned
 * as tests/helpers/process.ts does, with its own temporary data directory)
 * and the raw WebSocket relay baseline; plus an optional `perf record` of the
 * server for profiling.
 *
 * @module
 */
import { LOG_READ_TIME_HEADER } from "./timeline.ts";
import { fromHex, toHex } from "../../src/crypto/mod.ts";
import { NO_PRELOAD } from "./nodelay_shim.ts";
import { SERVE_ALLOW_ENV } from "../../tests/helpers/serve_flags.ts";
import type { TargetJson } from "./agent.ts";
import { pinnedArgv } from "./pin.ts";
import { LOOP_DELAY_SAMPLE_MS } from "./server_delay.ts";
import type { RelayPump } from "./relay_pump.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;
const RELAY = new URL("./relay_server.ts", import.meta.url).pathname;

/** A process the load generator started. */
export interface Spawned {
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** A spawned CommuCat server. */
export interface SpawnedServer extends Spawned {
  /** SIGSTOP: it uses no CPU until {@link resume} (nothing may be connected to it meanwhile). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  target: TargetJson;
  dataDir: string;
  /** TLS certificate and key paths (for a TLS relay baseline on the same certificate). */
  tls: { certPath: string; keyPath: string };
  /** The admin token it was started with (reads `/metrics`). */
  adminToken: string;
}

function stopper(child: Deno.ChildProcess): () => Promise<void> {
  return async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5_000);
    await child.status;
    clearTimeout(timer);
  };
}

/**
 * Reads a child's stdout until `pattern` has all it needs; rejects if it exits
 * first. Its stderr is kept for that error; with `logPath`, its stderr and the
 * rest of its stdout (V8's `--trace-gc` prints there) are appended to that file.
 */
async function awaitLines(
  child: Deno.ChildProcess,
  done: (out: string) => boolean,
  what: string,
  logPath?: string,
): Promise<string> {
  let out = "";
  let err = "";
  const decoder = new TextDecoder();
  const log = logPath ? await timestampedLog(logPath) : null;
  if (log) {
    const write = log.stream();
    void (async () => {
      for await (const chunk of child.stderr) await write(chunk);
    })().catch(() => {});
    err = `(stderr in ${logPath})`;
  } else {
    void (async () => {
      for await (const chunk of child.stderr) err += decoder.decode(chunk, { stream: true });
    })();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const reader = child.stdout.getReader();
    while (true) {
      const { value, done: ended } = await reader.read();
      if (ended) throw new Error(`${what} exited before it was ready:\n${out}\n${err}`);
      out += decoder.decode(value, { stream: true });
      if (done(out)) {
        // Keep draining so the child never blocks on a full pipe.
        const write = log?.stream();
        void (async () => {
          while (true) {
            const { value, done } = await reader.read();
            if (done) break;
            if (write) await write(value);
          }
        })().catch(() => {});
        return out;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Appends to `path` (a `--server-log`), each line prefixed with the
 * wall-clock ms it was read from the child, under {@link LOG_READ_TIME_HEADER}
 * (timeline.ts places V8's `--trace-gc` lines among the deliveries by it); `stream()` gives each of the child's streams its own
 * writer (a line split across reads stays whole).
 */
async function timestampedLog(
  path: string,
): Promise<{ stream(): (chunk: Uint8Array) => Promise<void> }> {
  const file = await Deno.open(path, { create: true, append: true });
  const encoder = new TextEncoder();
  await file.write(encoder.encode(`${LOG_READ_TIME_HEADER}\n`));
  return {
    stream() {
      const decoder = new TextDecoder();
      let partial = "";
      return async (chunk) => {
        const now = (performance.timeOrigin + performance.now()).toFixed(1);
        const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
        partial = lines.pop()!;
        if (lines.length === 0) return;
        await file.write(encoder.encode(lines.map((l) => `${now} ${l}\n`).join("")));
      };
    },
  };
}

/** Starts `main.ts serve` on an ephemeral port with a fresh data directory. */
export async function spawnCommuCat(options: {
  dataDir?: string;
  env?: Record<string, string>;
  /** Extra V8 flags, e.g. `--perf-basic-prof` so `perf` can name JS frames. */
  v8Flags?: string[];
  /** Run on these cores only (`taskset -c`); null or absent = anywhere. */
  cpus?: string | null;
  /** Open the V8 inspector on this loopback port (heap snapshots). */
  inspectPort?: number;
  /** Append the server's stderr and its stdout after start-up to this file (e.g. `--trace-gc`). */
  logPath?: string;
} = {}): Promise<SpawnedServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "commucat-load-" });
  const adminToken = `load-${toHex(crypto.getRandomValues(new Uint8Array(24)))}`;
  const args = [
    "run",
    "--allow-net",
    `--allow-read=${dataDir},${REPO}`,
    `--allow-write=${dataDir}`,
    // `deno task serve`'s own flag (read from deno.json): the operators' permission, PostgreSQL
    // and Redis backends included.
    SERVE_ALLOW_ENV,
  ];
  if (options.v8Flags?.length) args.push(`--v8-flags=${options.v8Flags.join(",")}`);
  if (options.inspectPort) args.push(`--inspect=127.0.0.1:${options.inspectPort}`);
  args.push(MAIN, "serve");
  const argv = pinnedArgv(options.cpus ?? null, Deno.execPath(), args);
  const child = new Deno.Command(argv.command, {
    args: argv.args,
    cwd: dataDir,
    env: {
      COMMUCAT_BIND: "127.0.0.1:0",
      COMMUCAT_DATA_DIR: dataDir,
      COMMUCAT_LOG_LEVEL: "warning",
      // The load generator is one client address opening thousands of sessions.
      COMMUCAT_RATE_CONNECT_BURST: "1000000000",
      COMMUCAT_RATE_HTTP_BURST: "1000000000",
      // Every load client comes from 127.0.0.1.
      COMMUCAT_MAX_CONNECTIONS_PER_IP: "1000000",
      COMMUCAT_MAX_CONNECTIONS: "1000000",
      COMMUCAT_ADMIN_TOKEN: adminToken,
      // The event loop's delay, for the report's split of the p99 (server_delay.ts).
      COMMUCAT_SERVER_LOOP_DELAY_SAMPLE_MS: String(LOOP_DELAY_SAMPLE_MS),
      NO_COLOR: "1",
      // Never the load clients' TCP_NODELAY shim, whatever this process's environment holds.
      ...NO_PRELOAD,
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = (out: string) =>
    /listening on https:\/\/[^\s]+:\d+/.test(out) && /tls certificate: \S+/.test(out) &&
    /noise public key: [0-9a-f]{64}/.test(out) && /domain: \S+/.test(out);
  const out = await awaitLines(child, ready, "commucat serve", options.logPath);
  const port = Number(out.match(/listening on https:\/\/[^\s]+:(\d+)/)![1]);
  const noise = out.match(/noise public key: ([0-9a-f]{64})/)![1];
  const domain = out.match(/domain: (\S+)/)![1];
  const cert = out.match(/tls certificate: (\S+)/)![1];
  const certPath = cert.startsWith("/") ? cert : `${dataDir}/${cert}`;
  return {
    pid: child.pid,
    dataDir,
    adminToken,
    tls: { certPath, keyPath: certPath.replace(/cert\.pem$/, "key.pem") },
    target: {
      url: `https://localhost:${port}`,
      domain,
      noisePublicHex: toHex(fromHex(noise, 32)),
      certificatePem: await Deno.readTextFile(certPath),
    },
    stop: stopper(child),
    pause: () => signal(child, "SIGSTOP"),
    resume: () => signal(child, "SIGCONT"),
  };
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch { /* gone */ }
}

/** What the V8 heap of a server holds (`/metrics`: `deno_heap_used_bytes`, `deno_external_memory_bytes`). */
export interface HeapSample {
  heapUsedBytes: number;
  externalBytes: number;
  /** `deno_heap_total_bytes`: what V8 holds in pages (NaN when absent). */
  heapTotalBytes: number;
}

/** Reads the V8 heap figures of a spawned server from its `/metrics`; null if unavailable. */
export async function readServerHeap(server: SpawnedServer): Promise<HeapSample | null> {
  const client = Deno.createHttpClient({ caCerts: [server.target.certificatePem] });
  try {
    const response = await fetch(`${server.target.url}/metrics`, {
      client,
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    const text = await response.text();
    if (!response.ok) return null;
    const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
    const heapUsedBytes = value("deno_heap_used_bytes");
    const externalBytes = value("deno_external_memory_bytes");
    return Number.isFinite(heapUsedBytes) && Number.isFinite(externalBytes)
      ? { heapUsedBytes, externalBytes, heapTotalBytes: value("deno_heap_total_bytes") }
      : null;
  } catch {
    return null;
  } finally {
    client.close();
  }
}

/** A spawned raw relay. */
export interface SpawnedRelay extends Spawned {
  /** `ws://127.0.0.1:<port>` or `wss://localhost:<port>`. */
  url: string;
}

/**
 * Starts bench/load/relay_server.ts (plain, or TLS with the given
 * certificate), on `cpus` only when given (`taskset -c`); with `pump`,
 * behind that raw TCP → loopback pump (relay_pump.ts).
 */
export async function spawnRelay(
  tls?: { certPath: string; keyPath: string },
  cpus: string | null = null,
  inspectPort?: number,
  pump?: RelayPump,
  pumpChunk?: number,
): Promise<SpawnedRelay> {
  const args = ["run", "--allow-net"];
  if (tls) args.push(`--allow-read=${tls.certPath},${tls.keyPath}`);
  // The V8 inspector for heap snapshots (heap_profile.ts --relay).
  if (inspectPort) args.push(`--inspect=127.0.0.1:${inspectPort}`);
  args.push(RELAY);
  if (tls) args.push(tls.certPath, tls.keyPath);
  if (pump) args.push(`--pump=${pump}`);
  if (pump && pumpChunk) args.push(`--pump-chunk=${pumpChunk}`);
  const argv = pinnedArgv(cpus, Deno.execPath(), args);
  const child = new Deno.Command(argv.command, {
    args: argv.args,
    env: { ...NO_PRELOAD },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await awaitLines(child, (o) => /relay listening on \d+/.test(o), "relay");
  const port = Number(out.match(/relay listening on (\d+)/)![1]);
  return {
    pid: child.pid,
    url: tls ? `wss://localhost:${port}` : `ws://127.0.0.1:${port}`,
    stop: stopper(child),
  };
}

/** A running `perf record`; {@link stop} ends it and returns the report text (or null). */
export interface PerfRecording {
  stop(): Promise<string | null>;
}

/** True when `perf` can be run. */
export async function perfAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("perf", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Samples `pid` with `perf record -F 499 -g` into `<dir>/<name>.data` until
 * stopped; the report is flat self time per symbol (JS frames are named when
 * the process runs with `--perf-basic-prof`).
 */
export function perfRecord(pid: number, dir: string, name: string): PerfRecording {
  const data = `${dir}/${name}.data`;
  const child = new Deno.Command("perf", {
    args: ["record", "-F", "499", "-g", "-e", "cpu-clock", "-p", String(pid), "-o", data],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return {
    async stop() {
      try {
        child.kill("SIGINT");
      } catch {
        // perf ended on its own (it could not attach, or the process exited): its status says how.
      }
      const status = await child.status;
      await child.stderr.cancel().catch(() => {});
      if (!status.success && status.signal !== "SIGINT") return null;
      const report = await new Deno.Command("perf", {
        args: [
          "report",
          "-i",
          data,
          "--no-children",
          "--sort",
          "dso,symbol",
          "--stdio",
          "--percent-limit",
          "0.3",
          "-g",
          "none",
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      const text = new TextDecoder().decode(report.stdout);
      await Deno.writeTextFile(`${dir}/${name}.txt`, text);
      return text;
    },
  };
}

/** The top `limit` rows (`percent`, `dso`, `symbol`) of a flat `perf report --stdio`. */
export function parsePerfReport(
  text: string,
  limit = 25,
): { percent: number; dso: string; symbol: string }[] {
  const rows: { percent: number; dso: string; symbol: string }[] = [];
  for (const line of text.split("\n")) {
    // "  9.85%  libc.so.6  [.] _int_malloc  -  -": the dso may hold spaces ("[JIT] tid 42").
    const match = line.match(/^\s+([\d.]+)%\s+(.+?)\s+\[[.kj]\]\s+(.*?)(?:\s+-\s+-)?\s*$/);
    if (!match) continue;
    rows.push({ percent: Number(match[1]), dso: match[2].trim(), symbol: match[3] });
    if (rows.length >= limit) break;
  }
  return rows;
}
