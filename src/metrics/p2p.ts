/**
 * Metrics of the P2P part: the `/p2p` relay (sessions waiting and paired,
 * pairs formed, sockets ended by outcome, messages and bytes relayed) and
 * `/api/p2p/assist` answers. The observer shapes match src/p2p's hooks
 * structurally (metrics imports nothing of p2p).
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";

/** Outcomes the relay reports (label values, zeroed at start). */
const RELAY_OUTCOMES = [
  "bad_hello",
  "refused",
  "third_party",
  "hello_timeout",
  "wait_timeout",
  "idle_timeout",
  "duplicate",
  "too_large",
  "overflow",
  "peer_left",
  "capacity",
  "shutdown",
] as const;

/** The P2P metrics and the hooks that feed them. */
export interface P2pMetrics {
  /** The relay's observer. */
  readonly relay: {
    waiting(count: number): void;
    paired(count: number): void;
    pairFormed(): void;
    ended(outcome: string): void;
    relayed(bytes: number): void;
  };
  /** Counts one assist answer. */
  assisted(): void;
}

/** Registers the P2P metrics in `registry`. */
export function registerP2pMetrics(registry: Registry): P2pMetrics {
  const registers = [registry];
  const waiting = new Gauge({
    name: "commucat_p2p_relay_waiting",
    help: "/p2p relay sessions waiting for their second peer.",
    registers,
  });
  const paired = new Gauge({
    name: "commucat_p2p_relay_paired",
    help: "/p2p relay pairs relaying now.",
    registers,
  });
  const pairs = new Counter({
    name: "commucat_p2p_relay_pairs_total",
    help: "/p2p relay pairs formed.",
    registers,
  });
  const ended = new Counter({
    name: "commucat_p2p_relay_closed_total",
    help: "/p2p relay sockets closed or refused by the relay, by outcome.",
    labelNames: ["outcome"] as const,
    registers,
  });
  const messages = new Counter({
    name: "commucat_p2p_relay_messages_total",
    help: "Messages relayed by /p2p.",
    registers,
  });
  const bytes = new Counter({
    name: "commucat_p2p_relay_bytes_total",
    help: "Bytes relayed by /p2p (message payloads).",
    registers,
  });
  const assists = new Counter({
    name: "commucat_p2p_assist_total",
    help: "/api/p2p/assist answers given.",
    registers,
  });
  for (const outcome of RELAY_OUTCOMES) ended.inc({ outcome }, 0);
  return {
    relay: {
      waiting: (n) => waiting.set(n),
      paired: (n) => paired.set(n),
      pairFormed: () => pairs.inc(),
      ended: (outcome) =>
        ended.inc({
          outcome: (RELAY_OUTCOMES as readonly string[]).includes(outcome) ? outcome : "other",
        }),
      relayed: (n) => {
        messages.inc();
        bytes.inc(n);
      },
    },
    assisted: () => assists.inc(),
  };
}
