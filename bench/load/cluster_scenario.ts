/**
 * Scenario `cluster` of the load tool: cross-instance routing against one
 * instance, in the same pinned run. Two `commucat serve` processes share a
 * private PostgreSQL database and a Redis database (both on the server
 * cores); the 1:1 pairs run first with both members on instance A (the
 * single-instance reference, same backends), then with one member on A and
 * the other on B, so every message crosses the bus. Needs a reachable
 * PostgreSQL and Redis (`--pg-dsn`/`--redis-url`, or `COMMUCAT_TEST_PG_DSN`/
 * `COMMUCAT_TEST_REDIS_URL`); otherwise it reports why it was skipped.
 * Both phases are measured the same way: the run's client and window at
 * max rate, both instances in the run's (first) accept mode; the verdict
 * (targets.ts) compares rates only when both phases were server-bound.
 *
 * bench/load/cluster.ts is the older standalone driver (private servers,
 * unpinned, one process) over the same setup.
 *
 * @module
 */
import postgres from "postgres";
import type { TargetJson } from "./agent.ts";
import { CLK_TCK, parseProcStat } from "./procfs.ts";
import { acceptEnv } from "./accept_modes.ts";
import { keptCopiesHooks } from "./kept_copies.ts";
import type {
  ClusterPhase,
  ClusterSummary,
  KeptCopiesSummary,
  TrafficSummary,
} from "./report_types.ts";
import { spawnCommuCat, type SpawnedServer } from "./spawn.ts";
import type { MeasureHooks } from "./traffic_window.ts";

/** Where the shared services are (flags, else the test environment variables). */
export interface ClusterServices {
  pgDsn?: string;
  redisUrl?: string;
}

/** The Redis database the scenario uses (its presence keys; pub/sub is server-wide). */
export const CLUSTER_REDIS_DB = 11;

/** What the scenario needs from the run (run.ts owns the agents and the CPU sampling). */
export interface ClusterRunParts {
  services: ClusterServices;
  /** Server cores (`taskset -c`), null = not pinned. */
  serverCpus: string | null;
  /** Opens the pairs, member m of each on `targets[m % length]`; resolves when routed. */
  openPairs(label: string, targets: TargetJson[]): Promise<void>;
  closePairs(): Promise<void>;
  /** One max-rate traffic phase, server CPU summed over `pids`; `hooks` around its window. */
  phase(label: string, pids: number[], hooks?: MeasureHooks): Promise<TrafficSummary>;
  /** A perf recording of `pid` as profile `name` of phase `label`; null without `--profile`. */
  profile(pid: number, name: string, label: string): Promise<MeasureHooks | null>;
  /** V8 flags of the instances (`--perf-basic-prof` with `--profile`). */
  v8Flags: string[];
  /**
   * `server.accept` of both instances: the run's (first) mode, so the one
   * instance and the two are the same server as the pairs phase's.
   */
  accept: "guarded" | "direct";
  progress(line: string): void;
}

/**
 * CPU clock ticks of every PostgreSQL and Redis process of the machine, by
 * pid (`/proc/<pid>/stat`, read through `cat`: Deno needs `--allow-all` to
 * read `/proc` itself). The services are shared: other tenants' work counts.
 */
function serviceTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  try {
    const out = new Deno.Command("sh", {
      args: ["-c", "cat /proc/[0-9]*/stat 2>/dev/null"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const match = line.match(/^(\d+) \((postgres|redis-server)\) /);
      if (!match) continue;
      const { user, system } = parseProcStat(line);
      ticks.set(Number(match[1]), user + system);
    }
  } catch {
    // No /proc or no sh: the figure is left out.
  }
  return ticks;
}

/**
 * Hooks sampling the services' CPU over the measured window, and the perf
 * recordings of `recordings` (each instance with `--profile`).
 */
function windowHooks(
  recordings: (MeasureHooks | null)[],
): { hooks: MeasureHooks; cpuSeconds: () => number | null } {
  let before: Map<number, number> | null = null;
  let seconds: number | null = null;
  return {
    hooks: {
      start() {
        before = serviceTicks();
        for (const r of recordings) r?.start();
      },
      end() {
        if (before === null || before.size === 0) return;
        let ticks = 0;
        // A process started in the window counts whole; one that ended is lost (both rare).
        for (const [pid, now] of serviceTicks()) ticks += now - (before.get(pid) ?? 0);
        seconds = ticks / CLK_TCK;
      },
      async stop() {
        for (const r of recordings) await r?.stop();
      },
    },
    cpuSeconds: () => seconds,
  };
}

/**
 * One measured phase with its services' CPU, the durable-copy window summed
 * over the instances (kept_copies.ts), and the instances' profiles with
 * `--profile`.
 */
async function measured(
  parts: ClusterRunParts,
  label: string,
  servers: { server: SpawnedServer; name: string }[],
): Promise<ClusterPhase> {
  const recordings = await Promise.all(
    servers.map((s) => parts.profile(s.server.pid, s.name, label)),
  );
  const { hooks, cpuSeconds } = windowHooks(recordings);
  const kept = servers.map((s) => keptCopiesHooks(s.server.target));
  const summary = await parts.phase(label, servers.map((s) => s.server.pid), {
    start() {
      hooks.start();
      for (const k of kept) k.hooks.start();
    },
    end: () => hooks.end?.(),
    async stop() {
      await hooks.stop();
      for (const k of kept) await k.hooks.stop();
    },
  });
  return {
    ...summary,
    servicesCpuSeconds: cpuSeconds(),
    keptCopies: sumKept(kept.map((k) => k.result())),
  };
}

/** The durable-copy windows of several instances as one; undefined if any is missing. */
export function sumKept(parts: (KeptCopiesSummary | undefined)[]): KeptCopiesSummary | undefined {
  if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
  const written = parts.reduce((s, p) => s + p!.written, 0);
  const acknowledgedInWindow = parts.reduce((s, p) => s + p!.acknowledgedInWindow, 0);
  const settled = written + acknowledgedInWindow;
  return { written, acknowledgedInWindow, writtenShare: settled > 0 ? written / settled : null };
}

/** `services` with the environment filled in. */
export function clusterServices(flags: ClusterServices): ClusterServices {
  return {
    pgDsn: flags.pgDsn || Deno.env.get("COMMUCAT_TEST_PG_DSN") || undefined,
    redisUrl: flags.redisUrl || Deno.env.get("COMMUCAT_TEST_REDIS_URL") || undefined,
  };
}

/** Redis answers PING at `url` within 2 s; the reason when not. */
async function redisUnreachable(url: string): Promise<string | null> {
  try {
    const parsed = new URL(url);
    const conn = await Deno.connect({
      hostname: parsed.hostname,
      port: Number(parsed.port || 6379),
    });
    try {
      const timer = setTimeout(() => conn.close(), 2_000);
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      clearTimeout(timer);
      const reply = n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
      return reply.startsWith("+PONG") ? null : `Redis at ${parsed.host} answered ${reply.trim()}`;
    } finally {
      try {
        conn.close();
      } catch { /* closed by the timer */ }
    }
  } catch (error) {
    return `Redis unreachable: ${(error as Error).message}`;
  }
}

/** A fresh database on the PostgreSQL of `dsn`; `drop` removes it (also bench/inprocess_cluster.ts). */
export async function privateDatabase(
  dsn: string,
): Promise<{ dsn: string; drop(): Promise<void> }> {
  const name = `commucat_load_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(dsn, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(dsn);
  url.pathname = `/${name}`;
  return {
    dsn: url.toString(),
    async drop() {
      const again = postgres(dsn, { max: 1, connect_timeout: 3, onnotice: () => {} });
      try {
        await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await again.end({ timeout: 1 });
      }
    },
  };
}

/** `/healthz` counters of one instance (bus notices delivered as carried vs queue reads, messages). */
async function busCounters(
  server: SpawnedServer,
): Promise<{ carried: number; reads: number; messages: number }> {
  const client = Deno.createHttpClient({ caCerts: [server.target.certificatePem] });
  try {
    const body = await (await fetch(`${server.target.url}/healthz`, { client })).json() as {
      relay?: {
        bus_carried_delivered?: number;
        bus_queue_reads?: number;
        bus_held_copies_messages?: number;
      };
    };
    return {
      carried: body.relay?.bus_carried_delivered ?? 0,
      reads: body.relay?.bus_queue_reads ?? 0,
      messages: body.relay?.bus_held_copies_messages ?? NaN,
    };
  } catch {
    return { carried: NaN, reads: NaN, messages: NaN };
  } finally {
    client.close();
  }
}

/**
 * Runs the scenario: the single-instance reference, then the cross-instance
 * pairs. Returns `{ skipped }` when the services are not configured or not
 * reachable.
 */
export async function measureCluster(parts: ClusterRunParts): Promise<ClusterSummary> {
  const { pgDsn, redisUrl } = parts.services;
  if (!pgDsn || !redisUrl) {
    return {
      skipped: "needs PostgreSQL and Redis: --pg-dsn/--redis-url or " +
        "COMMUCAT_TEST_PG_DSN/COMMUCAT_TEST_REDIS_URL",
    };
  }
  const redisDown = await redisUnreachable(redisUrl);
  if (redisDown) return { skipped: redisDown };
  let database: Awaited<ReturnType<typeof privateDatabase>>;
  try {
    database = await privateDatabase(pgDsn);
  } catch (error) {
    return { skipped: `PostgreSQL unusable: ${(error as Error).message}` };
  }
  const redis = new URL(redisUrl);
  redis.pathname = `/${CLUSTER_REDIS_DB}`;
  const env = {
    COMMUCAT_STORAGE_BACKEND: "postgres",
    COMMUCAT_PG_DSN: database.dsn,
    COMMUCAT_PRESENCE_BACKEND: "redis",
    COMMUCAT_REDIS_URL: redis.toString(),
    ...acceptEnv(parts.accept),
  };
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-load-cluster-" });
  const servers: SpawnedServer[] = [];
  try {
    parts.progress("cluster: starting two instances (PostgreSQL + Redis)");
    // One deployment: the same data directory (Noise key, device CA, TLS certificate).
    const spawn = () =>
      spawnCommuCat({ dataDir, env, cpus: parts.serverCpus, v8Flags: parts.v8Flags });
    servers.push(await spawn());
    servers.push(await spawn());
    const [a, b] = servers;

    // Both instances warm first (a fresh process spends its first seconds in
    // the JIT compiler: B would pay it inside the measured window, and the
    // cross-instance paths — bus, presence look-ups — are cold in A too).
    await parts.openPairs("cluster: warm-up", [a.target, b.target]);
    await parts.phase("cluster: warm-up (cross-instance, not reported)", [a.pid, b.pid]);
    await parts.closePairs();

    await parts.openPairs("cluster: 1 instance", [a.target]);
    const single = await measured(parts, "cluster: 1 instance (PostgreSQL + Redis), max", [
      { server: a, name: "cluster-single" },
    ]);
    await parts.closePairs();

    await parts.openPairs("cluster: cross-instance", [a.target, b.target]);
    const before = await Promise.all(servers.map(busCounters));
    const cross = await measured(parts, "cluster: 2 instances, cross-instance, max", [
      { server: a, name: "cluster-cross-a" },
      { server: b, name: "cluster-cross-b" },
    ]);
    const after = await Promise.all(servers.map(busCounters));
    await parts.closePairs();
    const delta = (k: "carried" | "reads" | "messages") =>
      after.reduce((s, x, i) => s + x[k] - before[i][k], 0);
    const messages = delta("messages");
    return {
      accept: parts.accept,
      single,
      cross,
      busCarriedDelivered: delta("carried"),
      busQueueReads: delta("reads"),
      ...(Number.isFinite(messages) ? { busMessages: messages } : {}),
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    await database.drop().catch(() => {});
  }
}
