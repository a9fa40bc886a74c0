/**
 * What one idle established connection holds in the server's V8 heap: a
 * spawned `commucat serve` (with `--inspect`), a heap snapshot after a full
 * GC with W warm connections, then another with W + K, and the difference
 * per connection by constructor (self size), largest first. Native memory
 * (Deno's Rust side, TLS, malloc) is not in a heap snapshot: compare with the
 * RSS figures of `bench load`.
 *
 *   scripts/deno run --allow-all bench/load/heap_profile.ts [--connections 1000]
 *     [--relay] [--direct] [--by-retainer] [--rss]
 *
 * `--relay` profiles the raw TLS relay (relay_server.ts, the memory floor:
 * the handshake's message sizes and the server's liveness, like for like)
 * instead; `--direct` spawns the server with `server.accept = "direct"`;
 * `--by-retainer` names each object by what holds it; `--rss` takes no
 * snapshot but reads the server's RSS after the same full GC at both points
 * (RSS per idle connection without the garbage a load run's figure depends
 * on: whether V8 collected the handshakes' before the reading).
 *
 * @module
 */
import { LoadAgent, type OpenResult } from "./agent.ts";
import { acceptEnv } from "./accept_modes.ts";
import { SERVER_LIVENESS_SECONDS } from "./baselines.ts";
import { IDLE_EXCHANGE } from "./relay_server.ts";
import { spawnCommuCat, spawnRelay } from "./spawn.ts";
import { readRssBytes } from "./procfs.ts";

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

/** A `.heapsnapshot` as parsed JSON (the parts read here). */
interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: (string | string[])[];
      edge_fields: string[];
      edge_types: (string | string[])[];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/**
 * Self size and count per "name ← retainer.edge": each node labelled with its
 * first strong retainer, so an anonymous array or closure is named by what
 * holds it (a Map's table, a Promise's reaction, a context slot). Ids in
 * names (`scope @123`) are dropped so that per-connection copies group.
 */
export function heapByRetainer(snapshot: Snapshot): Map<string, { count: number; bytes: number }> {
  const meta = snapshot.snapshot.meta;
  const width = meta.node_fields.length;
  const typeAt = meta.node_fields.indexOf("type");
  const nameAt = meta.node_fields.indexOf("name");
  const sizeAt = meta.node_fields.indexOf("self_size");
  const edgeCountAt = meta.node_fields.indexOf("edge_count");
  const nodeTypes = meta.node_types[typeAt] as string[];
  const ewidth = meta.edge_fields.length;
  const etypeAt = meta.edge_fields.indexOf("type");
  const enameAt = meta.edge_fields.indexOf("name_or_index");
  const etoAt = meta.edge_fields.indexOf("to_node");
  const edgeTypes = meta.edge_types[etypeAt] as string[];
  const { nodes, edges, strings } = snapshot;
  const count = nodes.length / width;
  const label = (i: number) => {
    const type = nodeTypes[nodes[i * width + typeAt]];
    const name = strings[nodes[i * width + nameAt]].replace(/ @\d+/g, "").slice(0, 40);
    return type === "object" || type === "closure" || type === "native" ||
        type === "hidden" || type === "array"
      ? `${type === "object" ? "" : `(${type}) `}${name}`
      : `(${type})`;
  };
  // First strong retainer of each node: its source node and the edge's name.
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge = new Array<string>(count);
  let e = 0;
  for (let from = 0; from < count; from++) {
    const n = nodes[from * width + edgeCountAt];
    for (let k = 0; k < n; k++, e += ewidth) {
      const etype = edgeTypes[edges[e + etypeAt]];
      if (etype === "weak" || etype === "shortcut") continue;
      const to = edges[e + etoAt] / width;
      if (retainer[to] !== -1) continue;
      retainer[to] = from;
      retainerEdge[to] = etype === "element" || etype === "hidden"
        ? "[]"
        : String(strings[edges[e + enameAt]] ?? edges[e + enameAt]).slice(0, 24);
    }
  }
  const out = new Map<string, { count: number; bytes: number }>();
  // HEAP_DEPTH=2: also the holder's holder (what owns an anonymous array's object).
  const depth = Number(Deno.env.get("HEAP_DEPTH") ?? 1);
  const holder = (i: number) => {
    const r = retainer[i];
    return r < 0 ? "root" : `${label(r)}.${retainerEdge[i]}`;
  };
  for (let i = 0; i < count; i++) {
    const r = retainer[i];
    const key = `${label(i)} ← ${holder(i)}${depth > 1 && r >= 0 ? ` ← ${holder(r)}` : ""}`;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += nodes[i * width + sizeAt];
    out.set(key, entry);
  }
  return out;
}

/** Calls `methods` in order on the V8 inspector listening on `port`; `onChunk` gets snapshot chunks. */
async function inspectorCalls(
  port: number,
  methods: string[],
  onChunk: (chunk: string) => void = () => {},
): Promise<void> {
  const list = await (await fetch(`http://127.0.0.1:${port}/json`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, () => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") onChunk(message.params.chunk);
    else if (message.id !== undefined) pending.get(message.id)?.();
  };
  for (const method of methods) {
    await new Promise<void>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      const params = method === "HeapProfiler.takeHeapSnapshot" ? { reportProgress: false } : {};
      socket.send(JSON.stringify({ id: n, method, params }));
    });
  }
  socket.close();
}

/**
 * The raw heap snapshot (after the inspector's full GC) of the process listening for the
 * V8 inspector on `port` (`--inspect=127.0.0.1:PORT`), as JSON text.
 */
export async function takeHeapSnapshot(port: number): Promise<string> {
  const chunks: string[] = [];
  await inspectorCalls(
    port,
    ["HeapProfiler.enable", "HeapProfiler.collectGarbage", "HeapProfiler.takeHeapSnapshot"],
    (chunk) => chunks.push(chunk),
  );
  return chunks.join("");
}

/** RSS of `pid` after a full GC of the process inspected on `port`, bytes. */
async function rssAfterGc(port: number, pid: number): Promise<number> {
  await inspectorCalls(port, ["HeapProfiler.enable", "HeapProfiler.collectGarbage"]);
  return readRssBytes(pid);
}

async function inspectorSnapshot(port: number): Promise<ReturnType<typeof heapByConstructor>> {
  const text = await takeHeapSnapshot(port);
  // HEAP_SNAPSHOT_OUT=path.heapsnapshot keeps the raw snapshot (the last one taken) for DevTools.
  const out = Deno.env.get("HEAP_SNAPSHOT_OUT");
  if (out) await Deno.writeTextFile(out, text);
  const snapshot = JSON.parse(text) as Snapshot;
  return Deno.args.includes("--by-retainer")
    ? heapByRetainer(snapshot)
    : heapByConstructor(snapshot);
}

if (import.meta.main) {
  const connections = arg("connections", 1000);
  // --relay: the same idle connections on the raw TLS relay (the floor), to subtract.
  const relayMode = Deno.args.includes("--relay");
  const port = 9339;
  const env = Deno.args.includes("--direct") ? acceptEnv("direct") : undefined;
  const server = await spawnCommuCat(relayMode ? { env } : { inspectPort: port, env });
  const relay = relayMode ? await spawnRelay(server.tls, null, port) : null;
  const agent = new LoadAgent();
  try {
    const open = async (count: number) => {
      const r = await agent.run(
        relay
          ? {
            cmd: "openRawIdle",
            url: relay.url,
            caCerts: [server.target.certificatePem],
            count,
            concurrency: 32,
            exchange: IDLE_EXCHANGE,
            idleSeconds: SERVER_LIVENESS_SECONDS,
          }
          : {
            cmd: "openIdle",
            target: server.target,
            mode: "websocket",
            count,
            concurrency: 32,
          },
      ) as OpenResult;
      if (r.failed > 0) throw new Error(`${r.failed} connections failed: ${r.firstError}`);
    };
    await open(100);
    await new Promise((r) => setTimeout(r, 2_000));
    if (Deno.args.includes("--rss") && !relay) {
      const rss0 = await rssAfterGc(port, server.pid);
      await open(connections);
      await new Promise((r) => setTimeout(r, 3_000));
      const rss1 = await rssAfterGc(port, server.pid);
      console.log(
        `RSS per idle connection after a full GC: ${
          ((rss1 - rss0) / connections / 1024).toFixed(2)
        } KiB`,
      );
    } else {
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
      console.log(`V8 heap per idle connection after a full GC: ${(total / 1024).toFixed(2)} KiB`);
      console.log("| constructor | objects per connection | bytes per connection |");
      console.log("| --- | --- | --- |");
      for (const r of rows.slice(0, Number(Deno.env.get("HEAP_ROWS") ?? 30))) {
        console.log(
          `| ${r.name.slice(0, 110).replaceAll("|", "\\|")} | ${r.count.toFixed(2)} | ${
            Math.round(r.bytes)
          } |`,
        );
      }
    }
  } finally {
    agent.close();
    await relay?.stop();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  Deno.exit(0);
}
