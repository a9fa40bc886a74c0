/**
 * Metrics of the pluggable-transport listener (`transport.pt.*`): whether its
 * child runs, how often it was restarted, and what became of the
 * connections it forwarded. The observer shape matches the PT listener's
 * hook structurally (metrics imports nothing of transport).
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";

/** Outcomes of a forwarded connection (label values, zeroed at start). */
const OUTCOMES = ["served", "total", "per_client", "unauthenticated"] as const;

/** The PT metrics' hook. */
export interface PtMetrics {
  /** The child started (true) or exited (false). */
  childUp(up: boolean): void;
  /** The child was restarted after it exited on its own. */
  restarted(): void;
  /** A connection the PT forwarded was served, refused by a cap, or failed the cookie. */
  connection(outcome: string): void;
}

/** Registers the PT metrics in `registry`. */
export function registerPtMetrics(registry: Registry): PtMetrics {
  const registers = [registry];
  const up = new Gauge({
    name: "commucat_pt_child_up",
    help: "1 while the pluggable-transport child (transport.pt.binary) runs, else 0.",
    registers,
  });
  const restarts = new Counter({
    name: "commucat_pt_child_restarts_total",
    help: "Restarts of the pluggable-transport child after it exited on its own.",
    registers,
  });
  const connections = new Counter({
    name: "commucat_pt_connections_total",
    help: "Connections the pluggable transport forwarded, by outcome.",
    labelNames: ["outcome"] as const,
    registers,
  });
  for (const outcome of OUTCOMES) connections.inc({ outcome }, 0);
  return {
    childUp: (u) => up.set(u ? 1 : 0),
    restarted: () => restarts.inc(),
    connection: (outcome) =>
      connections.inc({
        outcome: (OUTCOMES as readonly string[]).includes(outcome) ? outcome : "other",
      }),
  };
}
