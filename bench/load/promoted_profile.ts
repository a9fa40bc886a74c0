/**
 * What the server allocates per 1:1 message that outlives the young
 * generation: a spawned `commucat serve` (with `--inspect`) under paced pairs
 * traffic, with V8's sampling heap profiler told to drop the samples of
 * objects a scavenge collected (`includeObjectsCollectedByMinorGC: false`).
 * The window starts right after a full GC and is short enough (4 s) that no
 * mark-compact runs in it; at its end two scavenges (`--expose-gc`) clear the
 * young generation's garbage. What is left is what the messages promoted to
 * the old generation (plus the few in flight at the end): the bytes that make
 * the old generation grow between mark-compacts and the scavenges long
 * (docs/PERFORMANCE.md "p99 at 50%"). The server's `--trace-gc` goes to
 * stdout of this tool's child: run with `--server-log FILE` to check that no
 * mark-compact fell in the window.
 *
 *   scripts/deno run --allow-all bench/load/promoted_profile.ts [--rate 4000]
 *     [--seconds 4] [--pairs 50] [--guarded] [--interval 4096] [--server-log FILE]
 *
 * With `--client` it profiles the load client instead (this process, through
 * `node:inspector`; run it with `--v8-flags=--expose-gc`): what the SDK and the
 * traffic engine keep per delivery past a scavenge, the client's share of the
 * p99 at 50% (`--websocket nodelay` for the TCP_NODELAY client). `--allocated`
 * counts every sampled allocation instead (the allocation rate, which sets how
 * often the scavenges come).
 *
 * Prints promoted bytes per delivered message by allocation site and by the
 * first of CommuCat's own frames (src/) on the allocating stack.
 *
 * @module
 */
import { type AgentCommand, LoadAgent, type OpenResult } from "./agent.ts";
import { acceptEnv } from "./accept_modes.ts";
import { keptBetween, readKeptCounts } from "./kept_copies.ts";
import { spawnCommuCat } from "./spawn.ts";
import type { PhaseResult } from "./traffic.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

/** A node of V8's sampling heap profile (`HeapProfiler.getSamplingProfile`). */
export interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  id: number;
  children: SamplingNode[];
}

/** Bytes per site: the allocating frame, and the first frame whose URL matches `ours`. */
export function promotedBySite(
  head: SamplingNode,
  ours: RegExp,
): { byFrame: Map<string, number>; byOwnFrame: Map<string, number>; total: number } {
  const byFrame = new Map<string, number>();
  const byOwnFrame = new Map<string, number>();
  let total = 0;
  const name = (n: SamplingNode) => {
    const f = n.callFrame;
    const file = f.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/");
    return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
  };
  const walk = (node: SamplingNode, own: string | null) => {
    const here = ours.test(node.callFrame.url) ? name(node) : own;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const frame = name(node);
      byFrame.set(frame, (byFrame.get(frame) ?? 0) + node.selfSize);
      const key = here ?? "(no frame of ours)";
      byOwnFrame.set(key, (byOwnFrame.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, null);
  return { byFrame, byOwnFrame, total };
}

/** The inspector of this process (`--client`). */
async function selfInspector() {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  return {
    call: (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
      new Promise((resolve, reject) =>
        session.post(
          method,
          params,
          (error: unknown, result: unknown) => error ? reject(error) : resolve(result),
        )
      ),
    close: () => session.disconnect(),
  };
}

async function inspector(port: number) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  let next = 0;
  const pending = new Map<number, (value: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.id !== undefined) pending.get(message.id)?.(message.result ?? message.error);
  });
  return {
    call: (method: string, params: Record<string, unknown> = {}): Promise<unknown> => {
      const id = ++next;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve));
    },
    close: () => socket.close(),
  };
}

if (import.meta.main) {
  const rate = arg("rate", 4000);
  const seconds = arg("seconds", 4);
  const pairs = arg("pairs", 50);
  const interval = arg("interval", 4096);
  const port = 9340;
  const env = Deno.args.includes("--guarded") ? acceptEnv("guarded") : acceptEnv("direct");
  const logAt = Deno.args.indexOf("--server-log");
  const client = Deno.args.includes("--client");
  const allocated = Deno.args.includes("--allocated");
  const server = await spawnCommuCat({
    inspectPort: client ? undefined : port,
    env,
    v8Flags: ["--expose-gc", ...(logAt >= 0 ? ["--trace-gc"] : [])],
    logPath: logAt >= 0 ? Deno.args[logAt + 1] : undefined,
  });
  const agent = new LoadAgent({
    webSocket: Deno.args.includes("--websocket") &&
        Deno.args[Deno.args.indexOf("--websocket") + 1] === "nodelay"
      ? "nodelay"
      : "deno",
  });
  const debug = client ? await selfInspector() : await inspector(port);
  // The client's own young generation, cleared the same way (needs --expose-gc here).
  const minorGcs = () =>
    client
      ? Promise.resolve((globalThis as unknown as { gc(o: unknown): void }).gc({ type: "minor" }))
        .then(() => (globalThis as unknown as { gc(o: unknown): void }).gc({ type: "minor" }))
      : debug.call("Runtime.evaluate", {
        expression: "gc({ type: 'minor' }); gc({ type: 'minor' })",
      });
  try {
    const open: AgentCommand = {
      cmd: "openGroups",
      target: server.target,
      mode: "websocket",
      pattern: "XK",
      groups: pairs,
      groupSize: 2,
      channelBase: 1,
      concurrency: 16,
    };
    const opened = await agent.run(open) as OpenResult;
    if (opened.failed > 0) {
      throw new Error(`${opened.failed} sessions failed: ${opened.firstError}`);
    }
    const phase = (durationMs: number) =>
      agent.run({
        cmd: "phase",
        spec: { ratePerSecond: rate, window: 8, warmupMs: 0, durationMs, drainMs: 500 },
      }) as Promise<PhaseResult>;
    await phase(2_000); // JIT warm-up, unsampled
    await debug.call("HeapProfiler.enable");
    await debug.call("HeapProfiler.collectGarbage");
    await debug.call("HeapProfiler.startSampling", {
      samplingInterval: interval,
      includeObjectsCollectedByMajorGC: true,
      // `--allocated`: every sampled allocation, not only what outlived the scavenges.
      includeObjectsCollectedByMinorGC: allocated,
    });
    const keptBefore = await readKeptCounts(server.target);
    const result = await phase(seconds * 1000);
    const kept = keptBetween(keptBefore, await readKeptCounts(server.target));
    await minorGcs();
    const { profile } = await debug.call("HeapProfiler.stopSampling") as {
      profile: { head: SamplingNode };
    };
    const { byFrame, byOwnFrame, total } = promotedBySite(
      profile.head,
      client ? /\/(src|bench)\// : /\/src\//,
    );
    const delivered = result.delivered;
    const per = (bytes: number) => (bytes / delivered).toFixed(1);
    console.log(
      `${delivered} deliveries at ${rate}/s over ${seconds} s (${
        Deno.args.includes("--guarded") ? "guarded" : "direct"
      }${client ? ", the load client's heap" : ""}): ${
        per(total)
      } bytes per delivery outlived the young generation (sampled every ${interval} B); ` +
        `durable copies written ${kept?.written ?? "?"}, acknowledged in the window ${
          kept?.acknowledgedInWindow ?? "?"
        }`,
    );
    const table = (title: string, rows: Map<string, number>) => {
      console.log(`\n| ${title} | bytes per delivery | share |\n| --- | --- | --- |`);
      for (const [site, bytes] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
        console.log(
          `| ${site.replaceAll("|", "\\|")} | ${per(bytes)} | ${
            (100 * bytes / total).toFixed(1)
          }% |`,
        );
      }
    };
    table(
      `first frame of ours (${client ? "src/, bench/" : "src/"}) on the allocating stack`,
      byOwnFrame,
    );
    table("allocating frame", byFrame);
  } finally {
    debug.close();
    agent.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  Deno.exit(0);
}
