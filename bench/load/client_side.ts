/**
 * The client side of a load run: which WebSocket the load clients use and
 * where the agents run. `deno-nodelay` (the default) runs them in at least
 * one worker process with the TCP_NODELAY shim preloaded (nodelay_shim.ts);
 * without `cc`, or when the shim does not build, the run falls back to `deno`
 * (Nagle on) and says so in the report.
 *
 * @module
 */
import type { ClientWebSocket } from "./agent.ts";
import { type AgentHandle, localAgent, spawnAgent } from "./fleet.ts";
import { buildNoDelayShim, procMaps } from "./nodelay_shim.ts";

/** The agents of a run and how they were set up. */
export interface ClientSide {
  agents: AgentHandle[];
  /** The WebSocket the clients actually use (`deno` after a failed `deno-nodelay`). */
  webSocket: ClientWebSocket;
  /** How the client load runs, in words (the report's "Client:"). */
  words: string;
  /** The report's notes about the client (the fallback, a shim that did not load). */
  notes: string[];
}

/** The note of a run whose `deno-nodelay` client fell back to `deno` (`why`: the build error). */
export function fallbackNote(why: string): string {
  return `Client WebSocket deno-nodelay unavailable (${why}): the clients run on deno ` +
    "(Deno's WebSocket, Nagle on), so every p99, the floor's included, has the client's Nagle in it.";
}

/**
 * Starts the agents: `workers` worker processes (at least one for
 * `deno-nodelay`, whose shim only they preload) or the agent in this process;
 * on `cpus` when pinned.
 */
export async function startClientSide(
  asked: ClientWebSocket,
  workers: number,
  cpus: string | null,
): Promise<ClientSide> {
  const notes: string[] = [];
  let webSocket = asked;
  let env: Record<string, string> = {};
  if (asked === "deno-nodelay") {
    const shim = await buildNoDelayShim();
    if ("path" in shim) {
      env = { LD_PRELOAD: shim.path };
      workers = Math.max(1, workers);
    } else {
      webSocket = "deno";
      notes.push(fallbackNote(shim.error));
    }
  }
  const agents = workers > 0
    ? Array.from({ length: workers }, () => spawnAgent(cpus, webSocket, env))
    : [localAgent(webSocket)];
  if (env.LD_PRELOAD) {
    for (const agent of agents) {
      if ((await loadedIn(agent.pid, env.LD_PRELOAD)) === false) {
        notes.push(
          `The TCP_NODELAY shim (${env.LD_PRELOAD}) is not mapped in client worker ` +
            `${agent.pid} (/proc/${agent.pid}/maps): its sockets may have Nagle on.`,
        );
      }
    }
  }
  const words = workers > 0
    ? `${workers} worker process${workers > 1 ? "es" : ""} (Deno.Command of bench/load/worker.ts${
      env.LD_PRELOAD ? ", LD_PRELOAD TCP_NODELAY shim" : ""
    })`
    : "one process (the CLI itself)";
  return { agents, webSocket, words, notes };
}

/**
 * Whether `pid` has the shim mapped, once it runs Deno (its maps name the
 * executable: `taskset` has exec'd it); waits up to 5 s for that exec. Null
 * when its maps cannot be read.
 */
async function loadedIn(pid: number, path: string): Promise<boolean | null> {
  const deno = Deno.execPath();
  for (let i = 0; i < 50; i++) {
    const maps = procMaps(pid);
    if (maps === null) return null;
    if (maps.includes(deno)) return maps.includes(path);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
