/**
 * What the guarded accept path's loopback pair costs on its own: the same
 * idle TLS WebSockets as the load tool's memory floor (the raw relay's
 * handler: the handshake's message sizes, the server's liveness) served three
 * ways, in alternated rounds, RSS growth per connection of each:
 *
 * - `relay`: `Deno.serve` on the public port (the floor of the memory budget);
 * - `plain`: `Deno.listen` on the public port, each socket dialled to a
 *   loopback `Deno.serve` and copied both ways by two `async` loops with a
 *   256 B buffer each — the least a loopback pump can be in JavaScript (the
 *   native floor of a pump: two more Deno sockets and a pending read each way);
 * - `guarded`: CommuCat's guarded TCP listener (src/transport/tls_tcp.ts:
 *   caps, first-request timer, LoopbackEngine's pump) in front of the same handler.
 *
 * `guarded − plain` is ours in the pump; `plain − relay` is the loopback
 * pair's native floor (plus two minimal JS loops).
 *
 *   flock -o /work/wt/_notes/bench.lock taskset -c 1 scripts/deno run --allow-all \
 *     bench/loopback_floor.ts [--connections 5000] [--rounds 3] [--modes relay,plain,guarded]
 *     [--live] [--heap [--by-retainer]] [--server-v8-flags a,b] [--server-env K=V,K=V]
 *
 * `direct` and `commucat` measure CommuCat itself the same way (a spawned
 * `commucat serve`, direct or guarded accept, established idle sessions: the
 * load tool's idle phase), so one run alternates the floor and the server.
 * Servers run on core 0; run the driver on core 1 (`taskset -c 1`).
 *
 * Needs `ulimit -n` above 3 × connections (+ the client's).
 *
 * @module
 */
import { LoadAgent, type OpenResult } from "./load/agent.ts";
import { SERVER_LIVENESS_SECONDS } from "./load/baselines.ts";
import { IDLE_EXCHANGE } from "./load/relay_server.ts";
import { heapRows, snapshot } from "./inspector_snapshot.ts";
import { makeCertificate } from "./localhost_cert.ts";
import { servePumped } from "./load/relay_pump.ts";
import { acceptEnv } from "./load/accept_modes.ts";
import { readServerHeap, spawnCommuCat } from "./load/spawn.ts";

type Mode = "relay" | "plain" | "guarded" | "direct" | "commucat";

/** `--heap`: a heap snapshot (after a full GC) at both points, the difference per connection by constructor. */
const INSPECT = Deno.args.includes("--heap");
const INSPECT_PORT = 9341;
const BY_RETAINER = Deno.args.includes("--by-retainer");
/** `--live`: the live heap (a full GC after each reading; the RSS figures then differ from the load tool's). */
const LIVE = Deno.args.includes("--live");
const SERVER_V8_FLAGS = (() => {
  const at = Deno.args.indexOf("--server-v8-flags");
  return at >= 0 ? Deno.args[at + 1].split(",") : [];
})();
/** `--server-env K=V,K=V`: more environment of the spawned CommuCat (e.g. glibc malloc tunables). */
const SERVER_ENV: Record<string, string> = (() => {
  const at = Deno.args.indexOf("--server-env");
  if (at < 0) return {};
  return Object.fromEntries(Deno.args[at + 1].split(",").map((kv) => kv.split("=", 2)));
})();
/** Servers run on core 0 (`taskset`), like the load tool's; run this driver on core 1. */
const SERVER_CPUS = "0";

const groups = new Map<string, Set<WebSocket>>();

/** The raw relay's idle handler (relay_server.ts): upgrade with the liveness, answer the handshake sizes. */
function handler(request: Request): Response {
  const params = new URL(request.url).searchParams;
  const replies = params.get("replies")?.split(",").map(Number) ?? [];
  const idleTimeout = Number(params.get("idle") ?? 0);
  let answered = 0;
  const name = params.get("group") ?? "";
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
  socket.binaryType = "arraybuffer";
  // The relay's group bookkeeping too (its idle sockets each join a group of one).
  socket.onopen = () => {
    let group = groups.get(name);
    if (!group) groups.set(name, group = new Set());
    group.add(socket);
  };
  socket.onmessage = () => {
    if (answered < replies.length) socket.send(new Uint8Array(replies[answered++]));
  };
  socket.onclose = () => {
    const group = groups.get(name);
    group?.delete(socket);
    if (group?.size === 0) groups.delete(name);
  };
  return response;
}

/**
 * The server of `mode`: the relay on `Deno.serve`; `plain`: behind the least
 * pump (relay_pump.ts's minimal pump reading into 256 B, as idle as a pump
 * gets); `guarded`: behind CommuCat's own listener.
 */
async function serve(mode: Mode, tls: { cert: string; key: string }): Promise<number> {
  if (mode === "relay") {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, ...tls, onListen() {} }, handler);
    return server.addr.port;
  }
  return await servePumped(mode === "guarded" ? "guarded" : "minimal", tls, handler, 256);
}

function rssBytes(pid: number): number {
  return statusKiB(pid, "VmRSS") * 1024;
}

/** A `kB` line of `/proc/<pid>/status`, in KiB. */
function statusKiB(pid: number, key: string): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, "m"))![1]);
}

/** RSS split (anonymous, file-backed, shared memory), KiB: where RSS growth lives. */
function rssSplit(pid: number): number[] {
  return ["RssAnon", "RssFile", "RssShmem"].map((k) => statusKiB(pid, k));
}

/** Prints the RSS split's growth per connection (stderr). */
function logSplit(mode: Mode, a: number[], b: number[], count: number): void {
  console.error(
    `${mode}: RssAnon/RssFile/RssShmem KiB per connection: ${
      b.map((x, i) => ((x - a[i]) / count).toFixed(2)).join(" / ")
    }`,
  );
}

interface Memory {
  rss: number;
  /** V8 heap used after a full GC (the live heap). */
  live: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** A server child: `listening <port>` on start, a memoryUsage JSON line per stdin line. */
async function spawnServer(mode: Mode, certPath: string, keyPath: string) {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      SERVER_CPUS,
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-read",
      "--v8-flags=--expose-gc",
      ...(INSPECT ? [`--inspect=127.0.0.1:${INSPECT_PORT}`] : []),
      import.meta.filename!,
      "--serve",
      mode,
      certPath,
      keyPath,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const at = pending.indexOf("\n");
      if (at >= 0) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        return line;
      }
      const { value, done } = await lines.read();
      if (done) throw new Error("server ended");
      pending += value;
    }
  };
  const port = Number((await nextLine()).split(" ")[1]);
  const stdin = child.stdin.getWriter();
  return {
    port,
    pid: child.pid,
    async memory(): Promise<Memory> {
      await stdin.write(new TextEncoder().encode("\n"));
      const rss = rssBytes(child.pid);
      const usage = JSON.parse(await nextLine());
      return { rss, ...usage };
    },
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await lines.cancel().catch(() => {});
    },
  };
}

/** CommuCat itself (`commucat` = the default guarded accept, `direct`), RSS only. */
async function spawnCommuCatServer(mode: "direct" | "commucat") {
  const server = await spawnCommuCat({
    env: { ...acceptEnv(mode === "direct" ? "direct" : "guarded"), ...SERVER_ENV },
    cpus: SERVER_CPUS,
    // --server-v8-flags a,b: V8 flags of the spawned CommuCat (e.g. a young-generation cap).
    v8Flags: SERVER_V8_FLAGS,
  });
  return {
    target: server.target,
    pid: server.pid,
    async memory(): Promise<Memory> {
      const rss = rssBytes(server.pid);
      const heap = await readServerHeap(server);
      return {
        rss,
        live: NaN,
        heapUsed: heap?.heapUsedBytes ?? NaN,
        heapTotal: heap?.heapTotalBytes ?? NaN,
        external: heap?.externalBytes ?? NaN,
      };
    },
    async stop() {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    },
  };
}

async function measure(mode: Mode, count: number, cert: string, certPath: string, keyPath: string) {
  if (mode === "direct" || mode === "commucat") return await measureCommuCat(mode, count);
  const server = await spawnServer(mode, certPath, keyPath);
  const agent = new LoadAgent();
  try {
    const open = async (n: number) => {
      const r = await agent.run({
        cmd: "openRawIdle",
        url: `wss://localhost:${server.port}`,
        caCerts: [cert],
        count: n,
        concurrency: 32,
        exchange: IDLE_EXCHANGE,
        idleSeconds: SERVER_LIVENESS_SECONDS,
      }) as OpenResult;
      if (r.failed > 0) throw new Error(`${mode}: ${r.failed} failed: ${r.firstError}`);
    };
    await open(200);
    await new Promise((r) => setTimeout(r, 2_000));
    const a = await server.memory();
    const splitA = rssSplit(server.pid);
    const heapA = INSPECT ? await snapshot(INSPECT_PORT, BY_RETAINER) : null;
    await open(count);
    await new Promise((r) => setTimeout(r, 3_000));
    const b = await server.memory();
    logSplit(mode, splitA, rssSplit(server.pid), count);
    if (heapA) heapRows(heapA, await snapshot(INSPECT_PORT, BY_RETAINER), count, mode);
    const per = (k: keyof Memory) => (b[k] - a[k]) / count / 1024;
    return {
      rss: per("rss"),
      live: per("live"),
      heapUsed: per("heapUsed"),
      heapTotal: per("heapTotal"),
      external: per("external"),
    };
  } finally {
    agent.close();
    await server.stop();
  }
}

async function measureCommuCat(mode: "direct" | "commucat", count: number) {
  const server = await spawnCommuCatServer(mode);
  const agent = new LoadAgent();
  try {
    const open = async (n: number) => {
      const r = await agent.run({
        cmd: "openIdle",
        target: server.target,
        mode: "websocket",
        count: n,
        concurrency: 32,
      }) as OpenResult;
      if (r.failed > 0) throw new Error(`${mode}: ${r.failed} failed: ${r.firstError}`);
    };
    await open(200);
    await new Promise((r) => setTimeout(r, 2_000));
    const a = await server.memory();
    const splitA = rssSplit(server.pid);
    await open(count);
    await new Promise((r) => setTimeout(r, 3_000));
    const b = await server.memory();
    logSplit(mode, splitA, rssSplit(server.pid), count);
    const per = (k: keyof Memory) => (b[k] - a[k]) / count / 1024;
    return {
      rss: per("rss"),
      live: NaN,
      heapUsed: per("heapUsed"),
      heapTotal: per("heapTotal"),
      external: per("external"),
    };
  } finally {
    agent.close();
    await server.stop();
  }
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--serve");
  if (at >= 0) {
    const [mode, certPath, keyPath] = Deno.args.slice(at + 1) as [Mode, string, string];
    const tls = { cert: Deno.readTextFileSync(certPath), key: Deno.readTextFileSync(keyPath) };
    const port = await serve(mode, tls);
    console.log(`listening ${port}`);
    const input = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
    for await (const chunk of input) {
      for (let i = 0; i < chunk.split("\n").length - 1; i++) {
        // RSS is read before this answer (the load tool's method: no GC); then the live heap.
        const usage = Deno.memoryUsage();
        // --live: a full GC after each reading (it changes how the heap grows: off by default).
        if (LIVE) (globalThis as unknown as { gc(): void }).gc();
        console.log(JSON.stringify({ ...usage, live: LIVE ? Deno.memoryUsage().heapUsed : NaN }));
      }
    }
  } else {
    const arg = (name: string, fallback: string) => {
      const i = Deno.args.indexOf(`--${name}`);
      return i >= 0 ? Deno.args[i + 1] : fallback;
    };
    const count = Number(arg("connections", "5000"));
    const rounds = Number(arg("rounds", "3"));
    const modes = arg("modes", "relay,plain,guarded").split(",") as Mode[];
    const { dir, certPath, keyPath, pem: cert } = await makeCertificate();
    console.log(`| round | mode | RSS KiB/conn | live heap | heapUsed | heapTotal | external |`);
    console.log(`| --- | --- | --- | --- | --- | --- | --- |`);
    for (let round = 1; round <= rounds; round++) {
      for (const mode of modes) {
        const m = await measure(mode, count, cert, certPath, keyPath);
        const f = (x: number) => x.toFixed(2);
        console.log(
          `| ${round} | ${mode} | ${f(m.rss)} | ${f(m.live)} | ${f(m.heapUsed)} | ${
            f(m.heapTotal)
          } | ${f(m.external)} |`,
        );
      }
    }
    await Deno.remove(dir, { recursive: true });
    Deno.exit(0);
  }
}
