/**
 * The shutdown sequence: stop accepting and the jobs, tell every client,
 * drain connections and HTTP requests within one grace period, then close the
 * backends — each bounded, so a backend that is down cannot hold the process.
 *
 * @module
 */
import type { ServerConnection } from "../session/mod.ts";
import type { ServerState } from "./http_app.ts";

/** What the sequence stops, in order. */
export interface ShutdownParts {
  state: ServerState;
  /** Background jobs, secret rotation, federation workers: stopped first. */
  workers: (() => void | Promise<void>)[];
  /** Open `/connect` connections: each gets an Error "shutdown". */
  connections: ReadonlySet<ServerConnection>;
  /** Runs once connections have drained (or the grace ran out), before listeners stop. */
  afterDrain?: () => void;
  /**
   * Listeners and their connections: HTTP requests in flight may finish
   * within the grace period, then what is left is cut.
   */
  listeners: { shutdown(): Promise<void>; close(): void }[];
  /** Backends closed last (bus, presence, ledger, store), each bounded by the grace. */
  backends: (() => Promise<unknown>)[];
  graceMs: number;
}

/** Resolves after `ms` (at once when not positive). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs the sequence once; later calls return the same promise. */
export function shutdownSequence(p: ShutdownParts): () => Promise<void> {
  let stopped: Promise<void> | null = null;
  return () =>
    stopped ??= (async () => {
      p.state.stopping = true;
      for (const stop of p.workers) await stop();
      // Unacknowledged frames of each closed session are requeued.
      const connections = [...p.connections];
      for (const connection of connections) connection.close("shutdown");
      // Draining connections and finishing HTTP requests share one grace period.
      const deadline = Date.now() + p.graceMs;
      const graceLeft = () => sleep(deadline - Date.now());
      await Promise.race([Promise.all(connections.map((c) => c.done)), graceLeft()]);
      p.afterDrain?.();
      await Promise.race([Promise.all(p.listeners.map((l) => l.shutdown())), graceLeft()]);
      for (const listener of p.listeners) listener.close();
      for (const close of p.backends) {
        // A failing close is as good as done here: the process is going away.
        await Promise.race([close().catch(() => undefined), sleep(p.graceMs)]);
      }
    })();
}
