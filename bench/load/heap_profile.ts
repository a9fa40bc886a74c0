/**
 * What one idle established connection holds in the server's V8 heap: a
 * spawned `commucat serve` (with `--inspect`), a heap snapshot after a full
 * GC with W warm connections, then another with W + K, and the difference
 * per connection by constructor (self size), largest first. Native memory
 * (Deno's Rust side, TLS, malloc) is not in a heap snapshot: compare with the
 * RSS figures of `bench load`.
 *
 *   scripts/deno run --allow-all bench/load/heap_profile.ts [--connections 1000]
 *
 * @module
 */
import { LoadAgent, type OpenResult } from "./agent.ts";
import { spawnCommuCat } from "./spawn.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

/** Self size and count per constructor name in a `.heapsnapshot`. */
export function heapByConstructor(snapshot: {
  snapshot: { meta: { node_fields: string[]; node_types: (string | string[])[] } };
  nodes: number[];
  strings: string[];
}): Map<string, { count: number; bytes: number }> {
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snapshot.snapshot.meta.node_types[typeAt] as string[];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]];
    const name = type === "object" || type === "closure"
      ? `${type === "closure" ? "closure " : ""}${snapshot.strings[snapshot.nodes[i + nameAt]]}`
      : `(${type})`;
    const entry = out.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt];
    out.set(name, entry);
  }
  return out;
}

async function inspectorSnapshot(port: number): Promise<ReturnType<typeof heapByConstructor>> {
  const list = await (await fetch(`http://127.0.0.1:${port}/json`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const chunks: string[] = [];
  const pending = new Map<number, () => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params.chunk);
    else if (message.id !== undefined) pending.get(message.id)?.();
  };
  const call = (method: string, params: unknown = {}) =>
    new Promise<void>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      socket.send(JSON.stringify({ id: n, method, params }));
    });
  await call("HeapProfiler.enable");
  await call("HeapProfiler.collectGarbage");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  socket.close();
  return heapByConstructor(JSON.parse(chunks.join("")));
}

if (import.meta.main) {
  const connections = arg("connections", 1000);
  const port = 9339;
  const server = await spawnCommuCat({ inspectPort: port });
  const agent = new LoadAgent();
  try {
    const open = async (count: number) => {
      const r = await agent.run({
        cmd: "openIdle",
        target: server.target,
        mode: "websocket",
        count,
        concurrency: 32,
      }) as OpenResult;
      if (r.failed > 0) throw new Error(`${r.failed} connections failed: ${r.firstError}`);
    };
    await open(100);
    await new Promise((r) => setTimeout(r, 2_000));
    const before = await inspectorSnapshot(port);
    await open(connections);
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await inspectorSnapshot(port);
    const rows = [...after].map(([name, a]) => {
      const b = before.get(name) ?? { count: 0, bytes: 0 };
      return {
        name,
        count: (a.count - b.count) / connections,
        bytes: (a.bytes - b.bytes) / connections,
      };
    }).sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    console.log(`V8 heap per idle connection after a full GC: ${(total / 1024).toFixed(1)} KiB`);
    console.log("| constructor | objects per connection | bytes per connection |");
    console.log("| --- | --- | --- |");
    for (const r of rows.slice(0, Number(Deno.env.get("HEAP_ROWS") ?? 30))) {
      console.log(
        `| ${r.name.slice(0, 60).replaceAll("|", "\\|")} | ${r.count.toFixed(2)} | ${
          Math.round(r.bytes)
        } |`,
      );
    }
  } finally {
    agent.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  Deno.exit(0);
}
