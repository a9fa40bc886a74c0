/**
 * Where a spawned server's CPU goes during a handshake storm, by component:
 * `commucat serve` with `--inspect` (pinned to core 0, this process to core
 * 1), a V8 CPU profile (inspector `Profiler`) around a storm of new devices
 * and one of known devices reconnecting, each sample charged to the
 * innermost frame of ours (`src/…`, grouped by folder or file) or, with none
 * on the stack, to its leaf (Deno's runtime JS, `(program)` = native code
 * outside JS: Rust HTTP/TLS/WebSocket, ops; `(garbage collector)`). Scaled by
 * the server's CPU seconds from /proc into CPU-µs per handshake. The
 * inspector costs a little itself: use the shares, and `bench load` for the
 * absolute figure.
 *
 *   scripts/deno run --allow-all bench/load/cpu_profile.ts [--handshakes 1000] [--pattern XK]
 *     [--accept guarded|direct] [--out PREFIX]
 *
 * @module
 */
import { LoadAgent, type OpenResult } from "./agent.ts";
import { defaultCpuPlan, pinProcess } from "./pin.ts";
import { readCpuSeconds } from "./procfs.ts";
import { spawnCommuCat } from "./spawn.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** A V8 `Profiler.Profile`. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Our source file of a frame url, relative to the repository (`src/…`), or null. */
function ourFile(url: string): string | null {
  const at = url.indexOf("/src/");
  return url.startsWith("file://") && at >= 0 ? url.slice(at + 1) : null;
}

/** The component a frame of ours belongs to. */
export function componentOf(file: string): string {
  const rules: [RegExp, string][] = [
    [/^src\/crypto\/zkp(_\w+)?\.ts$/, "ZKP verify"],
    [/^src\/crypto\/(certificate|ed25519)\.ts$/, "certificate issue"],
    [/^src\/crypto\/noise\/|^src\/session\/noise_exchange\.ts$/, "Noise"],
    [/^src\/crypto\/pq\//, "post-quantum"],
    [/^src\/storage\//, "store (SQLite)"],
    [/^src\/proto\/(control|bootstrap)\.ts$/, "control frames (zod parse, Ack build)"],
    [/^src\/session\/replay\.ts$/, "replay cache"],
    [/^src\/server\/log\.ts$|^src\/log\//, "logs"],
    [/^src\/metrics\//, "metrics"],
    [/^src\/transport\//, "transport (pump)"],
    [/^src\/router\//, "router/presence"],
    [/^src\/session\//, "session set-up"],
    [/^src\/http\/|^src\/server\//, "server/HTTP routing"],
    [/^src\/proto\//, "frames/proto"],
    [/^src\/crypto\//, "crypto (other)"],
  ];
  for (const [pattern, name] of rules) if (pattern.test(file)) return name;
  return file.split("/").slice(0, 2).join("/");
}

/** What a sample with no frame of ours is charged to. */
function leafComponent(frame: ProfileNode["callFrame"]): string {
  if (frame.functionName.startsWith("(")) return frame.functionName;
  if (frame.url.startsWith("ext:")) return `Deno runtime JS (${frame.url.split("/")[0]}…)`;
  if (frame.url.includes("/npm/") || frame.url.includes("node_modules")) {
    return `npm (${frame.url.match(/registry\.npmjs\.org\/([^/]+(?:\/[^/]+)?)/)?.[1] ?? "?"})`;
  }
  return frame.url === "" ? "(native, no url)" : frame.url;
}

/** Sampled microseconds per component (innermost frame of ours, else the leaf). */
export function attribute(profile: CpuProfile): Map<string, number> {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const componentCache = new Map<number, string>();
  const componentOfNode = (id: number): string => {
    const cached = componentCache.get(id);
    if (cached) return cached;
    let name: string | null = null;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const file = ourFile(byId.get(at)!.callFrame.url);
      if (file) {
        name = componentOf(file);
        break;
      }
    }
    name ??= leafComponent(byId.get(id)!.callFrame);
    componentCache.set(id, name);
    return name;
  };
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const name = componentOfNode(profile.samples[i]);
    out.set(name, (out.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return out;
}

/** A minimal Chrome DevTools Protocol client over the inspector WebSocket. */
async function inspector(port: number) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  return {
    call: (method: string, params: unknown = {}) =>
      new Promise<unknown>((resolve) => {
        const n = ++id;
        pending.set(n, resolve);
        socket.send(JSON.stringify({ id: n, method, params }));
      }),
    close: () => socket.close(),
  };
}

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

if (import.meta.main) {
  const count = Number(arg("handshakes", "1000"));
  const pattern = arg("pattern", "XK");
  const out = arg("out", "");
  const accept = arg("accept", "guarded");
  const plan = await defaultCpuPlan();
  if (plan) await pinProcess(plan.client);
  const port = 9340;
  const server = await spawnCommuCat({
    inspectPort: port,
    cpus: plan?.server ?? null,
    env: { COMMUCAT_SERVER_ACCEPT: accept },
  });
  const agent = new LoadAgent();
  const cdp = await inspector(port);
  try {
    await cdp.call("Profiler.enable");
    await cdp.call("Profiler.setSamplingInterval", { interval: 200 });
    const target = server.target;
    const measure = async (label: string, run: () => Promise<OpenResult>) => {
      await cdp.call("Profiler.start");
      const cpu0 = readCpuSeconds(server.pid);
      const result = await run();
      const cpu = readCpuSeconds(server.pid) - cpu0;
      const { profile } = await cdp.call("Profiler.stop") as { profile: CpuProfile };
      if (out) await Deno.writeTextFile(`${out}-${label}.cpuprofile`, JSON.stringify(profile));
      const parts = attribute(profile);
      const idle = parts.get("(idle)") ?? 0;
      parts.delete("(idle)");
      const busy = [...parts.values()].reduce((s, v) => s + v, 0);
      const cpuUs = cpu * 1e6 / result.ok;
      console.log(
        `\n### ${label}: ${result.ok} ok, ${result.failed} failed; server CPU ${
          (cpuUs / 1000).toFixed(2)
        } ms per handshake (/proc, inspector attached)\n`,
      );
      console.log("| component | µs per handshake (sampled) | share of sampled |");
      console.log("| --- | --- | --- |");
      for (const [name, us] of [...parts].sort((a, b) => b[1] - a[1])) {
        if (us / busy < 0.003) continue;
        const each = Math.round(us / result.ok);
        console.log(`| ${name} | ${each} | ${(us / busy * 100).toFixed(1)}% |`);
      }
      console.log(
        `| not in a JS sample: native work while V8 was idle, other threads, kernel ` +
          `(CPU − sampled) | ${Math.round(cpuUs - busy / result.ok)} | |`,
      );
      console.log(`| (idle, wall) | ${Math.round(idle / result.ok)} | |`);
    };
    await agent.run({
      cmd: "handshakeStorm",
      target,
      mode: "websocket",
      pattern,
      count: 100,
      concurrency: 32,
    }); // warm-up: JIT, SQLite pages
    await measure("new devices", async () =>
      await agent.run({
        cmd: "handshakeStorm",
        target,
        mode: "websocket",
        pattern,
        count,
        concurrency: 64,
      }) as OpenResult);
    await agent.run({
      cmd: "openGroups",
      target,
      mode: "websocket",
      pattern,
      groups: count / 2,
      groupSize: 2,
      channelBase: 1,
      concurrency: 64,
    });
    await measure(
      "known devices (reconnect)",
      async () => await agent.run({ cmd: "reconnectStorm", concurrency: 64 }) as OpenResult,
    );
  } finally {
    cdp.close();
    agent.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  Deno.exit(0);
}
