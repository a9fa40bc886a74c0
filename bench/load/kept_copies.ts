/**
 * The durable-copy window under load (`router.durable_copy_delay_ms`,
 * docs/OPERATIONS.md): of the copies the server kept for live deliveries in
 * a measured phase, how many it wrote to the offline queue (the recipient's
 * acknowledgement did not arrive within the window) and how many were
 * acknowledged in the window and never written. Read from `/healthz`
 * (`relay.kept_written`, `relay.kept_acknowledged_in_window`) at the window's
 * start and after the drain, so the copies of the window's last deliveries
 * are settled too.
 *
 * @module
 */
import type { TargetJson } from "./agent.ts";
import { num } from "./format.ts";
import type { KeptCopiesSummary, TrafficSummary } from "./report_types.ts";
import type { MeasureHooks } from "./traffic_window.ts";

/** The two `/healthz` counters, running totals since the server started. */
export interface KeptCounts {
  written: number;
  acknowledgedInWindow: number;
}

/**
 * Reads the counters from `/healthz`; null when it cannot be read or lacks
 * them. With `client` (kept open by the caller) the reading reuses its
 * connection; without, it opens and closes a client of its own.
 */
export async function readKeptCounts(
  target: TargetJson,
  client?: Deno.HttpClient,
): Promise<KeptCounts | null> {
  const own = client === undefined;
  client ??= Deno.createHttpClient({ caCerts: [target.certificatePem] });
  try {
    const response = await fetch(`${target.url}/healthz`, { client });
    const body = await response.json() as {
      relay?: { kept_written?: unknown; kept_acknowledged_in_window?: unknown };
    };
    const written = body.relay?.kept_written;
    const acknowledged = body.relay?.kept_acknowledged_in_window;
    if (typeof written !== "number" || typeof acknowledged !== "number") return null;
    return { written, acknowledgedInWindow: acknowledged };
  } catch {
    return null;
  } finally {
    if (own) client.close();
  }
}

/** What happened to the copies kept between two readings; undefined if either is missing. */
export function keptBetween(
  before: KeptCounts | null,
  after: KeptCounts | null,
): KeptCopiesSummary | undefined {
  if (!before || !after) return undefined;
  const written = after.written - before.written;
  const acknowledgedInWindow = after.acknowledgedInWindow - before.acknowledgedInWindow;
  const settled = written + acknowledgedInWindow;
  return { written, acknowledgedInWindow, writtenShare: settled > 0 ? written / settled : null };
}

/**
 * Hooks for a measured window that read the counters at its start and at its
 * end (after the drain); `result()` is the difference once the window ran.
 * The hooks' HTTP client connects at once (made before the warm-up), so the
 * reading at the window's start reuses that connection: a fresh client there
 * put a TLS handshake on the server's and the client's cores in the window's
 * first milliseconds, and its deliveries were the slowest of the window
 * (perf-p99 notes, round 8).
 */
export function keptCopiesHooks(
  target: TargetJson,
): {
  hooks: MeasureHooks;
  result: () => KeptCopiesSummary | undefined;
  /** Resolves once the start reading is in (so what follows is counted after it). */
  started: () => Promise<unknown>;
} {
  const client = Deno.createHttpClient({ caCerts: [target.certificatePem] });
  const warm = readKeptCounts(target, client);
  let before: Promise<KeptCounts | null> = Promise.resolve(null);
  let summary: KeptCopiesSummary | undefined;
  return {
    hooks: {
      start: () => {
        before = warm.then(() => readKeptCounts(target, client));
      },
      stop: async () => {
        try {
          summary = keptBetween(await before, await readKeptCounts(target, client));
        } finally {
          await warm;
          client.close();
        }
      },
    },
    result: () => summary,
    started: () => before,
  };
}

/** Both hooks, in order (either may be absent); each one's `end`, when it has one. */
export function bothHooks(
  a: MeasureHooks | undefined,
  b: MeasureHooks | undefined,
): MeasureHooks {
  return {
    start: () => {
      a?.start();
      b?.start();
    },
    end: () => {
      a?.end?.();
      b?.end?.();
    },
    stop: async () => {
      await a?.stop();
      await b?.stop();
    },
  };
}

/** The report's sentence on the durable-copy window per phase; null when no phase has it. */
export function keptCopiesNote(
  phases: [string, TrafficSummary | null | undefined][],
): string | null {
  const parts = phases.flatMap(([name, t]) => {
    const k = t?.keptCopies;
    if (!k) return [];
    const share = k.writtenShare === null ? "–" : `${(k.writtenShare * 100).toFixed(1)}%`;
    return [
      `${name}: ${share} written (${num(k.written)} written, ${
        num(k.acknowledgedInWindow)
      } acknowledged in the window)`,
    ];
  });
  if (parts.length === 0) return null;
  return "Durable-copy window (`/healthz` relay.kept_written and kept_acknowledged_in_window, " +
    "from the window's start to the end of the drain): share of the live deliveries' copies " +
    `the server wrote to the offline queue: ${parts.join("; ")}.`;
}
