/**
 * Builds what `/connect` needs from the server's parts: the session
 * dependencies, the handshake gate hooks and the set of open connections the
 * server closes at shutdown, so the composition root only mounts it.
 *
 * @module
 */
import { generateId, utf8 } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import { DEFAULT_PADDING } from "../proto/mod.ts";
import type { Bus, PeerRegistry, Presence, Router } from "../router/mod.ts";
import type { HandshakeGate } from "../security/ratelimit/mod.ts";
import {
  type ConnectionDeps,
  type ConnectionObserver,
  type NoiseKeyring,
  ReplayCache,
  type ServerConnection,
  type SessionRuntime,
} from "../session/mod.ts";
import type { Store } from "../storage/mod.ts";
import { MultipathHub, parseFecPolicy, raptorqCodec } from "../multipath/mod.ts";
import type { ConnectHandlerOptions } from "./connect.ts";
import type { ServerKeys } from "./keys.ts";
import type { ServerSettings } from "./settings.ts";

/** Keepalive period announced to clients: half the session TTL, at least 5 s. */
export function keepaliveIntervalSeconds(settings: ServerSettings): number {
  return Math.max(Math.max(Math.floor(settings.keepaliveSeconds / 2), 1), 5);
}

/** The multipath hub of this server (PROTOCOL.md "Multipath"), unless turned off. */
function multipathHub(s: ServerSettings): MultipathHub | undefined {
  if (s.multipath === false) return undefined;
  const m = s.multipath ?? {};
  return new MultipathHub({
    maxPaths: m.maxPaths ?? 4,
    maxAttaches: 256,
    lingerMs: m.lingerMs ?? 15_000,
    policy: { default: parseFecPolicy(m.policy ?? "auto") },
    // RaptorQ in a Worker without permissions, started by the first three-path session.
    fec: raptorqCodec("worker"),
  });
}

/** The server parts sessions are wired to. */
export interface SessionParts {
  settings: ServerSettings;
  /** Owed-Ack timers and the presence refresher, shared by this server's sessions. */
  runtime: SessionRuntime;
  keys: ServerKeys;
  keyring: NoiseKeyring;
  store: Store;
  router: Router;
  registry: PeerRegistry;
  presence: Presence;
  bus: Bus;
  instanceId: string;
  gate: HandshakeGate;
  observer: ConnectionObserver;
  log: Logger;
}

/** `/connect` options plus the open connections (for shutdown and /healthz). */
export interface Sessions {
  readonly connect: ConnectHandlerOptions;
  /** Every open `/connect` connection, handshaking or established. */
  readonly open: ReadonlySet<ServerConnection>;
}

/** Session dependencies and `/connect` options for this server. */
export function buildSessions(p: SessionParts): Sessions {
  const s = p.settings;
  const keepalive = keepaliveIntervalSeconds(s);
  const newId = (context: string) => generateId(context);
  const deps: ConnectionDeps = {
    handshake: {
      domain: s.domain,
      prologue: utf8(s.prologue),
      keyring: p.keyring,
      store: p.store,
      ca: p.keys.ca,
      autoApproveDevices: s.autoApproveDevices,
      maxAutoDevicesPerUser: s.maxAutoDevicesPerUser,
      sessionTtlSeconds: s.keepaliveSeconds,
      keepaliveIntervalSeconds: keepalive,
      // Longer than the whole ±5 min IK timestamp window, so no replay outlives its entry.
      replay: new ReplayCache(11 * 60_000),
      ikFreshnessMs: 5 * 60_000,
      newId,
      now: Date.now,
      pq: {
        mode: s.pq ?? "prefer",
        budget: { admit: () => p.gate.admitHybrid() },
      },
    },
    router: p.router,
    registry: p.registry,
    presence: p.presence,
    store: p.store,
    runtime: p.runtime,
    instanceId: p.instanceId,
    handshakeTimeoutMs: s.handshakeTimeoutMs,
    partialFrameTimeoutMs: s.partialFrameTimeoutMs,
    rekey: { afterMessages: s.rekeyAfterMessages, afterMs: s.rekeyAfterMs },
    padding: s.padding ?? DEFAULT_PADDING,
    multipath: multipathHub(s),
    outboundQueueFrames: s.outboundQueueFrames,
    outboundQueueBytes: s.outboundQueueBytes,
    inboundQueueBytes: 32 * 1024 * 1024,
    presenceTtlSeconds: s.presenceTtlSeconds,
    sessionTtlSeconds: s.keepaliveSeconds,
    log: p.log,
    observer: p.observer,
    announce: (deviceId, connectionId) => {
      p.bus.broadcast({ kind: "kick", deviceId, connectionId }).catch((error) =>
        // The older connection elsewhere stays until its own keepalive ends it.
        p.log.warn("bus: kick not announced", { device: deviceId, error: String(error) })
      );
    },
  };
  const open = new Set<ServerConnection>();
  // One callback for every connection (a closure per connection was held while it was open).
  const untrack = (c: ServerConnection) => open.delete(c);
  return {
    open,
    connect: {
      deps,
      keepaliveMs: keepalive * 1000,
      admit: (id: string) => p.gate.enter(id),
      leave: (id: string) => p.gate.leave(id),
      track: (c: ServerConnection) => {
        open.add(c);
        c.onDone(untrack);
      },
    },
  };
}
