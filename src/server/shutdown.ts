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

/**
 * Runs the sequence once; later calls return the same promise. One grace
 * period, counted from the call, bounds the workers' stop, the drain and the
 * listeners' shutdown together: at its end what is left is cut, so the
 * process stops within the grace (plus the bounded backends' close) whatever
 * a client or a stuck worker does.
 */
export function shutdownSequence(p: ShutdownParts): () => Promise<void> {
  let stopped: Promise<void> | null = null;
  return () =>
    stopped ??= (async () => {
      p.state.stopping = true;
      const deadline = Date.now() + p.graceMs;
      const graceLeft = () => sleep(deadline - Date.now());
      // A worker waiting on a backend that is down (the federation outbox's last tick on a
      // PostgreSQL that does not answer) must not hold the rest; it is told to stop all the same.
      const workers = p.workers.map((stop) => Promise.resolve().then(stop).catch(() => undefined));
      await Promise.race([Promise.all(workers), graceLeft()]);
      // Unacknowledged frames of each closed session are requeued.
      const connections = [...p.connections];
      for (const connection of connections) connection.close("shutdown");
      // Draining connections and finishing HTTP requests share the rest of the grace period.
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
