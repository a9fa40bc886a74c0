/**
 * The state one load run shares between its phases: the options, the
 * agents (client side), the notes and profiles of the report, the channel
 * numbers handed out so far, and the CPU sampling of server and client.
 *
 * @module
 */
import type { AgentCommand, MultipathCounters, OpenResult } from "./agent.ts";
import { type AgentHandle, combinedProgress, split } from "./fleet.ts";
import type { LoadOptions } from "./options.ts";
import { canReadProc, readCpuSeconds } from "./procfs.ts";
import type { LoadReport, ProfileRow } from "./report_types.ts";
import { parsePerfReport, perfAvailable } from "./spawn.ts";
import { LatencyHistogram } from "./stats.ts";

/** Open results of several agents merged (counts summed, the slowest agent's seconds). */
export function mergeOpen(results: OpenResult[]): OpenResult & { latency: LatencyHistogram } {
  const latency = new LatencyHistogram();
  for (const r of results) latency.merge(r.handshakeLatency);
  return {
    ok: results.reduce((s, r) => s + r.ok, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    seconds: Math.max(...results.map((r) => r.seconds)),
    handshakeLatency: latency.toJSON(),
    firstError: results.find((r) => r.firstError)?.firstError,
    latency,
  };
}

/** The process ids behind `pid` (none, one, or the instances of scenario `cluster`). */
export function pidList(pid: number | number[] | undefined): number[] {
  return pid === undefined ? [] : typeof pid === "number" ? [pid] : pid;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** One run's shared state; the phase modules take it as their first argument. */
export class RunContext {
  /** The report's notes, in the order the phases add them. */
  readonly notes: string[] = [];
  /** The report's perf profiles (`--profile`). */
  readonly profiles: LoadReport["profiles"] = [];
  #channelBase = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);
  #perfChecked: boolean | null = null;

  /**
   * @param o the run's options
   * @param agents the client side: one local agent or the worker processes
   * @param clientCapacity cores the client side may use (pinned, or the machine's)
   */
  constructor(
    readonly o: LoadOptions,
    readonly agents: AgentHandle[],
    readonly clientCapacity: number,
  ) {}

  /** Reports a progress line. */
  progress(line: string): void {
    this.o.progress(line);
  }

  /** The client used ≥ 90% of the cores it had. */
  saturated(clientCores: number): boolean {
    return clientCores >= 0.9 * this.clientCapacity;
  }

  /** Notes a phase whose client saturated: `what` (its figures) measured the load generator. */
  noteIfSaturated(label: string, clientCores: number, what: string): void {
    if (!this.saturated(clientCores)) return;
    this.notes.push(
      `"${label}": the client used ${clientCores.toFixed(2)} of its ${this.clientCapacity} ` +
        `core(s) (saturated): ${what} measure the load generator, not the server.`,
    );
  }

  /** Reserves `count` + 1 fresh channel numbers; returns the first. */
  channels(count: number): number {
    const base = this.#channelBase;
    this.#channelBase += count + 1;
    return base;
  }

  /** Runs `make(i, share)` on every agent with its share of `total` (null: that agent idles). */
  onAll<T>(
    total: number,
    make: (i: number, share: number) => AgentCommand | null,
    progress?: (done: number, failed: number) => void,
  ): Promise<T[]> {
    const shares = split(total, this.agents.length);
    const hooks = progress ? combinedProgress(this.agents.length, progress) : [];
    return Promise.all(
      this.agents.map((agent, i) => {
        const command = make(i, shares[i]);
        return command === null ? Promise.resolve(null as T) : agent.run<T>(command, hooks[i]);
      }),
    );
  }

  /** Closes the sessions (pairs, groups, raw connections) every agent holds. */
  async closeGroups(): Promise<MultipathCounters | null> {
    const counters = (await this.onAll<MultipathCounters | null>(0, () => ({ cmd: "closeGroups" })))
      .filter((c): c is MultipathCounters => c !== null);
    if (counters.length === 0) return null;
    return counters.reduce((a, b) => ({
      sessions: a.sessions + b.sessions,
      sent: a.sent + b.sent,
      retransmitted: a.retransmitted + b.retransmitted,
      duplicates: a.duplicates + b.duplicates,
    }));
  }

  /** CPU seconds of `pid` (summed over several: the instances of scenario `cluster`). */
  cpuOf(pid: number | number[] | undefined): number | null {
    const pids = pidList(pid);
    if (pids.length === 0 || !pids.every(canReadProc)) return null;
    return pids.reduce((sum, p) => sum + readCpuSeconds(p), 0);
  }

  /** CPU seconds of the client side (all agents). */
  clientCpu(): number {
    return this.agents.reduce((s, a) => s + (this.cpuOf(a.pid) ?? 0), 0);
  }

  /** True when `--profile` was asked for, there is a pid, and perf works (noted once if not). */
  async canProfile(pid: number | undefined): Promise<boolean> {
    if (this.o.profileDir === undefined || pid === undefined) return false;
    if (this.#perfChecked === null) {
      this.#perfChecked = await perfAvailable();
      if (!this.#perfChecked) {
        this.notes.push("--profile: perf is not available here; no profile recorded.");
      }
    }
    return this.#perfChecked;
  }

  /** Keeps the top of perf report `text` (of profile `name`) as the profile of `phase`. */
  keepProfile(phase: string, name: string, text: string | null): void {
    if (!text) return;
    const top: ProfileRow[] = parsePerfReport(text, 30);
    this.profiles.push({ phase, file: `${this.o.profileDir}/${name}.txt`, top });
  }
}
