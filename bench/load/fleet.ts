/**
 * The client side of a load run: one agent in this process, or N agents in
 * worker processes (`Deno.Command` running worker.ts), behind one interface.
 *
 * @module
 */
import { type AgentCommand, type ClientWebSocket, LoadAgent, type Progress } from "./agent.ts";
import { pinnedArgv } from "./pin.ts";

/** One agent, local or remote. */
export interface AgentHandle {
  /** OS process id of the agent (for CPU accounting). */
  readonly pid: number;
  run<T>(command: AgentCommand, progress?: Progress): Promise<T>;
  close(): Promise<void>;
}

/** The agent inside this process, its clients on `webSocket` (default `deno`). */
export function localAgent(webSocket?: ClientWebSocket): AgentHandle {
  const agent = new LoadAgent({ webSocket });
  return {
    pid: Deno.pid,
    run: async <T>(command: AgentCommand, progress?: Progress) =>
      await agent.run(command, progress) as T,
    close: () => {
      agent.close();
      return Promise.resolve();
    },
  };
}

const WORKER = new URL("./worker.ts", import.meta.url).pathname;

/**
 * An agent in a new worker process (on `cpus` only, when given: `taskset -c`),
 * with `env` added to the inherited environment (`LD_PRELOAD` of the
 * `deno-nodelay` client: nodelay_shim.ts).
 */
export function spawnAgent(
  cpus: string | null = null,
  webSocket: ClientWebSocket = "deno",
  env: Record<string, string> = {},
): AgentHandle {
  const argv = pinnedArgv(cpus, Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    WORKER,
    `--websocket=${webSocket}`,
  ]);
  const child = new Deno.Command(argv.command, {
    args: argv.args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env,
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: Progress }
  >();
  let nextId = 1;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        const message = JSON.parse(line) as {
          id: number;
          progress?: [number, number];
          result?: unknown;
          error?: string;
        };
        const call = pending.get(message.id);
        if (!call) continue;
        if (message.progress) call.progress?.(...message.progress);
        else if (message.error !== undefined) {
          pending.delete(message.id);
          call.reject(new Error(`worker ${child.pid}: ${message.error}`));
        } else {
          pending.delete(message.id);
          call.resolve(message.result);
        }
      }
    }
    for (const call of pending.values()) call.reject(new Error(`worker ${child.pid} exited`));
    pending.clear();
  })();
  return {
    pid: child.pid,
    run<T>(command: AgentCommand, progress?: Progress): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
        writer.write(encoder.encode(JSON.stringify({ id, command }) + "\n")).catch(reject);
      });
    },
    async close() {
      await writer.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

/** `total` split into `parts` near-equal whole shares (larger shares first). */
export function split(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}

/** Sums the progress of several agents into one callback. */
export function combinedProgress(agents: number, report: Progress): Progress[] {
  const done = new Array(agents).fill(0);
  const failed = new Array(agents).fill(0);
  return done.map((_, i) => (d: number, f: number) => {
    done[i] = d;
    failed[i] = f;
    report(done.reduce((a, b) => a + b, 0), failed.reduce((a, b) => a + b, 0));
  });
}
