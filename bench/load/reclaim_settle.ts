/**
 * Traffic phases start after the server's idle reclaim, never racing it.
 *
 * The server runs one memory-reducing full collection at the first quiet
 * half second after ≥ 256 handshakes (src/server/idle_reclaim.ts); it also
 * shrinks the young generation, so the traffic after it pays for growing
 * the heap again (scavenges and an early mark-compact). Whether such a quiet
 * tick fell between a handshake storm (or enough phases' session opens) and
 * the next traffic phase used to depend on timing: with `--profile`, the
 * storm's `perf report` always left one; without, only a slow client did.
 * A window after a reclaim read 412 ms of server GC against 53–72 ms in
 * windows without one (bench load runs s3b vs s1b/s2b/s1d of 2026-12-05,
 * --trace-gc; /work/wt/_notes/direct.md). So before its sessions open, every
 * traffic phase first lets a pending reclaim run: {@link SETTLE_MS} of
 * quiet (the reclaim's tick comes in it), then one request to each server,
 * answered once the collection's pause is over; and once they are open,
 * {@link REGROW_MS} of unmeasured traffic at max lets the heap grow back
 * (young generation, and the first mark-compact that the shrunk old-
 * generation limit brings early), so each phase's own warm-up and window
 * see a server in its steady state whether a reclaim ran or not.
 *
 * @module
 */
import { IDLE_RECLAIM_INTERVAL_MS } from "../../src/server/idle_reclaim.ts";
import type { TargetJson } from "./agent.ts";
import { sleep } from "./run_context.ts";

/** Quiet before a phase: three reclaim ticks (one wholly quiet interval after the last activity, and margin). */
export const SETTLE_MS = 3 * IDLE_RECLAIM_INTERVAL_MS;

/** Unmeasured traffic after the sessions open, before the phase's own warm-up. */
export const REGROW_MS = 2_000;

/** Waits out a pending idle reclaim of each of `targets` (see the module doc). */
export async function settleReclaim(targets: TargetJson[]): Promise<void> {
  await sleep(SETTLE_MS);
  await Promise.all(targets.map(async (target) => {
    const client = Deno.createHttpClient({ caCerts: [target.certificatePem] });
    try {
      // The collection is synchronous: the server answers when its pause is over.
      await (await fetch(`${target.url}/healthz`, { client })).body?.cancel();
    } catch {
      // Unreachable now: the phase's own opens will say so.
    } finally {
      client.close();
    }
  }));
}
