/**
 * The baselines of a load run, all on Deno's own relay (relay_server.ts,
 * on the server cores) with no CommuCat code: the raw WebSocket relay's 1:1
 * rate (max and 50%), the raw TLS relay's (same certificate as the server),
 * the handshake floor (a storm of new TLS WebSocket connections) and the
 * memory floor (the same idle connections on Deno's WebSocket + TLS; for a
 * guarded server also behind the minimal loopback pump). The
 * handshake primitives are measured in-process (primitives.ts).
 *
 * @module
 */
import { defaultSettings } from "../../src/server/settings.ts";
import { webSocketLivenessSeconds } from "../../src/transport/mod.ts";
import type { OpenResult } from "./agent.ts";
import { type ConnectFloorSummary, relayConnectStorm } from "./connect_floor.ts";
import { measureIdle, type OpenIdle } from "./idle_memory.ts";
import { idleFilesFit } from "./open_files.ts";
import { SMALL_CHUNK } from "../../src/transport/byte_pump.ts";
import type { IdleSummary, TrafficSummary } from "./report_types.ts";
import { IDLE_EXCHANGE } from "./relay_server.ts";
import type { RelayPump } from "./relay_pump.ts";
import type { RunContext } from "./run_context.ts";
import { type SpawnedServer, spawnRelay } from "./spawn.ts";
import { readOpenFilesLimit } from "./procfs.ts";
import { measureTraffic } from "./traffic_window.ts";

/** Where the TLS baselines connect: the server's certificate and key, and its PEM to trust. */
export interface TlsBaseline {
  tls: SpawnedServer["tls"];
  certificatePem: string;
}

/** Server cores of the run (`taskset -c`), null = not pinned. */
const serverCpus = (ctx: RunContext) => ctx.o.pin?.server ?? null;

/** The raw (plain WebSocket) relay: 1:1 pairs at max, then at 50% of it. */
export async function rawRelay(
  ctx: RunContext,
): Promise<{ max: TrafficSummary; half: TrafficSummary | null }> {
  const o = ctx.o;
  const relay = await spawnRelay(undefined, serverCpus(ctx));
  try {
    await ctx.onAll<OpenResult>(
      o.pairs,
      (_, share) =>
        share === 0 ? null : { cmd: "openRawGroups", url: relay.url, groups: share, groupSize: 2 },
    );
    const max = await measureTraffic(ctx, "raw relay, max", relay.pid, null, o.pairs * 2);
    const half = await measureTraffic(
      ctx,
      "raw relay, 50%",
      relay.pid,
      max.deliveredPerSecond / 2,
      o.pairs * 2,
    );
    return { max, half };
  } finally {
    await ctx.closeGroups();
    await relay.stop();
  }
}

/**
 * The raw TLS relay (the server's certificate): 1:1 pairs at max, then the
 * same relay with acks — each message also answered to its sender and acked
 * by its receiver, so it carries the WebSocket messages of CommuCat's 1:1
 * path (send, Ack, delivery, delivery ack) with none of its crypto, framing
 * or storage: the native floor of that path. When a guarded server is
 * measured (`--accept guarded` or `both`), also the relay with acks behind
 * the minimal raw TCP → loopback pump (relay_pump.ts): the guarded path's
 * floor, its pump's native cost (two more sockets, a read and a write each
 * way per burst) included.
 */
export async function tlsRelay(
  ctx: RunContext,
  server: TlsBaseline,
): Promise<{ max: TrafficSummary; acked: TrafficSummary; ackedPumped?: TrafficSummary }> {
  const max = await tlsRelayPairs(ctx, server, false, null);
  const acked = await tlsRelayPairs(ctx, server, true, null);
  if (ctx.o.accept === "direct") return { max, acked };
  const ackedPumped = await tlsRelayPairs(ctx, server, true, null, { pump: "minimal" });
  return { max, acked, ackedPumped };
}

/**
 * The p99 floor of one accept mode (`accept`, for the phase's label): the TLS
 * relay with acks paced at `perSecond`, the rate of that mode's 1:1 50%
 * phase, by the same client and pacing (measureTraffic): at the same
 * absolute rate the relay does the same work per second as the server did,
 * where 50% of its own (higher) max would load it more.
 */
export function tlsRelayAckedAt(
  ctx: RunContext,
  server: TlsBaseline,
  perSecond: number,
  accept = "",
): Promise<TrafficSummary> {
  return tlsRelayPairs(ctx, server, true, perSecond, { suffix: accept ? ` of ${accept}` : "" });
}

async function tlsRelayPairs(
  ctx: RunContext,
  server: TlsBaseline,
  acks: boolean,
  perSecond: number | null,
  { suffix = "", pump }: { suffix?: string; pump?: RelayPump } = {},
): Promise<TrafficSummary> {
  const o = ctx.o;
  const relay = await spawnRelay(server.tls, serverCpus(ctx), undefined, pump);
  try {
    await ctx.onAll<OpenResult>(o.pairs, (_, share) =>
      share === 0 ? null : {
        cmd: "openRawGroups",
        url: relay.url,
        caCerts: [server.certificatePem],
        groups: share,
        groupSize: 2,
        acks,
      });
    const label = `raw TLS relay${acks ? " with acks" : ""}${
      pump ? " behind a loopback pump" : ""
    }, ${perSecond === null ? "max" : "50%"}${suffix}`;
    return await measureTraffic(ctx, label, relay.pid, perSecond, o.pairs * 2);
  } finally {
    await ctx.closeGroups();
    await relay.stop();
  }
}

/**
 * The handshake floor: new TLS WebSocket connections to Deno's own relay,
 * same certificate; with `pump` ("minimal"), the relay behind the minimal raw
 * TCP → loopback pump: the guarded accept mode's floor (a loopback dial per
 * connection, a read and a write more per flight).
 */
export async function relayConnectFloor(
  ctx: RunContext,
  server: TlsBaseline,
  pump?: RelayPump,
): Promise<ConnectFloorSummary> {
  const o = ctx.o;
  const relay = await spawnRelay(server.tls, serverCpus(ctx), undefined, pump);
  const label = `relay connect storm${pump ? " behind a loopback pump" : ""}`;
  try {
    return await relayConnectStorm({
      url: relay.url,
      caCerts: [server.certificatePem],
      count: o.handshakes,
      concurrency: o.concurrency,
      relayCpu: () => ctx.cpuOf(relay.pid),
      progress: (done, failed) =>
        ctx.progress(`${label}: ${done}/${o.handshakes} ok, ${failed} failed`),
    });
  } finally {
    await relay.stop();
  }
}

/** The spawned server's WebSocket liveness (default `server.handshake_timeout_ms`), seconds. */
export const SERVER_LIVENESS_SECONDS = webSocketLivenessSeconds(
  defaultSettings().handshakeTimeoutMs,
);

/**
 * The memory floor: the same idle connections on Deno's own WebSocket + TLS
 * (a fresh relay), like for like — each socket carries the handshake's
 * message sizes first ({@link IDLE_EXCHANGE}) and is upgraded with the
 * server's ping/pong liveness (`idleTimeout`): Deno's liveness timer and
 * what it keeps alive, and the buffers the first traffic grows, are Deno's
 * cost of such a connection, not ours. With `pump` ("minimal"), the relay
 * behind the minimal raw TCP → loopback pump: the guarded accept mode's
 * floor (two more sockets per connection, their Deno wrappers and a pending
 * read each way), its buffer per direction the size a guarded pump's idle
 * read waits on ({@link SMALL_CHUNK}), not the 64 KiB the 1:1 floor's pump
 * reads into (128 KiB per connection: a floor no idle server would pay). Null when the pumped relay's open files (three per
 * connection) would not fit its `ulimit -n`: the notes say so (an accept past
 * it would end the minimal pump's relay).
 */
export async function relayIdleFloor(
  ctx: RunContext,
  server: TlsBaseline,
  pump?: RelayPump,
): Promise<IdleSummary | null> {
  const relay = await spawnRelay(server.tls, serverCpus(ctx), undefined, pump, SMALL_CHUNK);
  const label = `raw TLS relay idle${pump ? " behind a loopback pump" : ""}`;
  try {
    const limit = readOpenFilesLimit(relay.pid);
    if (limit !== null && !idleFilesFit(limit, ctx.o.idleConnections, pump !== undefined)) {
      ctx.notes.push(
        `${label}: not measured: ${ctx.o.idleConnections} connections (3 files each) do not ` +
          `fit the open-files limit ${limit} (ulimit -n)`,
      );
      return null;
    }
    const open: OpenIdle = (count, progress) =>
      ctx.onAll<OpenResult>(count, (_, share) =>
        share === 0 ? null : {
          cmd: "openRawIdle",
          url: relay.url,
          caCerts: [server.certificatePem],
          count: share,
          concurrency: ctx.o.concurrency,
          exchange: IDLE_EXCHANGE,
          idleSeconds: SERVER_LIVENESS_SECONDS,
        }, progress);
    const idle = await measureIdle(ctx, relay.pid, open, label);
    return limit === null ? idle : { ...idle, openFilesLimit: limit };
  } finally {
    await ctx.closeGroups();
    await relay.stop();
  }
}
