/**
 * The composition root: builds every part of the server from settings, wires
 * them together, serves HTTP, runs the background jobs, and stops cleanly.
 *
 * @module
 */
import { blake3, generateId, utf8 } from "../crypto/mod.ts";
import { createLedger, type Ledger } from "../ledger/mod.ts";
import {
  clientIp,
  HandshakeGate,
  rateLimitKey,
  RateLimits,
  tooManyRequests,
  TrustedProxies,
} from "../security/ratelimit/mod.ts";
import {
  AdminTokenManager,
  NoiseKeyManager,
  startSecretRotation,
} from "../security/rotation/mod.ts";
import {
  type Bus,
  connectRedis,
  FriendsPolicy,
  LocalBus,
  MemoryPresence,
  OfflineQueue,
  PeerRegistry,
  type Presence,
  Router,
} from "../router/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  type ConnectionDeps,
  type ConnectionObserver,
  type NoiseKey,
  ReplayCache,
  type ServerConnection,
  SessionRuntime,
} from "../session/mod.ts";
import { openStore, type Store } from "../storage/mod.ts";
import { combineObservers, Metrics, serveMetrics } from "../metrics/mod.ts";
import { ensureSelfSignedCertificate } from "../security/tls/mod.ts";
import { purgePairings } from "../api/mod.ts";
import { buildApi } from "./api_wiring.ts";
import { buildFederation } from "./federation_wiring.ts";
import { wireCalls } from "./calls_wiring.ts";
import { busMessageHandler } from "./bus_handler.ts";
import { handleConnect } from "./connect.ts";
import { readiness } from "./readiness.ts";
import { loadServerKeys, type ServerKeys } from "./keys.ts";
import { withRequestLog } from "./log.ts";
import { json, problem } from "../http/mod.ts";
import { type ServerSettings, storeSettingsOf } from "./settings.ts";
import { createWebClient, WEB_PREFIX } from "../web/mod.ts";

/** Close reasons that are part of normal operation, not worth a log line. */
const ORDINARY_CLOSE = /^(client_closed|shutdown|replaced|revoked|handshake_failed)\b/;

/** Version reported by /healthz. */
export const SERVER_VERSION = "0.1.0";

/** Live counters shown by /healthz (metrics build on the same observer). */
export interface ServerCounters {
  handshakesOk: number;
  handshakesFailed: number;
  framesIn: number;
  framesOut: number;
  connectionsByMode: Record<string, number>;
}

/** A running server. */
export interface RunningServer {
  /** Where it listens (resolved port when 0 was asked). */
  readonly addr: { hostname: string; port: number };
  readonly h2cAddr: { hostname: string; port: number } | null;
  readonly domain: string;
  readonly keys: ServerKeys;
  readonly store: Store;
  readonly router: Router;
  readonly counters: ServerCounters;
  /** PEM of the TLS certificate clients should trust (self-signed or configured). */
  readonly certificatePem: string;
  /** Path of that certificate. */
  readonly certificatePath: string;
  /** The newest Noise static key (what clients should use). */
  noiseKey(): NoiseKey;
  /** An admin token generated at first start (no `admin.token` configured). */
  readonly generatedAdminToken: string | null;
  /** Where the newest generated or rotated admin token is written (mode 0600). */
  readonly adminTokenPath: string;
  readonly ledger: Ledger;
  /** Stops accepting, tells clients, closes connections and storage. */
  stop(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/** Writes an admin token for the operator to pick up: mode 0600, replaced atomically. */
async function writeAdminTokenFile(path: string, token: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, token + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
}

/** Parts supplied by an embedder instead of built from settings (tests inject failing stores). */
export interface ServerParts {
  /** Used instead of opening `settings.storage`; the server closes it on stop. */
  store?: Store;
}

/** Builds and starts a server. */
export async function startServer(
  settings: ServerSettings,
  log: Logger,
  parts: ServerParts = {},
): Promise<RunningServer> {
  await Deno.mkdir(settings.dataDir, { recursive: true });
  const keys = await loadServerKeys(settings);
  const trusted = TrustedProxies.parse(settings.trustedProxies);
  const store = parts.store ??
    await openStore(storeSettingsOf(settings), {
      migrate: settings.migrate,
      createIfNew: true,
      // SQLite: refuse a damaged file, say loudly when the WAL lost commits (docs/OPERATIONS.md).
      integrityCheck: "quick",
      onWarning: (line) => log.error(line),
    });
  const ledger = await createLedger({ ...settings.ledger, logger: log });
  const noiseKeys = new NoiseKeyManager({
    store,
    policy: settings.rotation.noise,
    bootstrapKey: keys.noise,
    logger: log,
  });
  await noiseKeys.start();
  const adminTokens = new AdminTokenManager({
    store,
    policy: settings.rotation.admin,
    logger: log,
    // New tokens go to a file only the service user can read: stdout ends up in the journal.
    deliverToken: (t) => {
      writeAdminTokenFile(adminTokenPath, t.token).then(
        () => log.info("admin token rotated", { version: t.version, file: adminTokenPath }),
        (e) => log.error("could not write the admin token file", { error: String(e) }),
      );
    },
  });
  const adminTokenPath = `${settings.dataDir}/admin-token`;
  const generatedAdminToken = await adminTokens.bootstrap(settings.adminToken ?? null);
  if (generatedAdminToken) await writeAdminTokenFile(adminTokenPath, generatedAdminToken);
  const verifyAdminToken = (token: string) => adminTokens.verify(token);

  const { presence, bus } = settings.presence.backend === "redis"
    ? connectRedis(settings.presence.url, { logger: log })
    : { presence: new MemoryPresence() as Presence, bus: new LocalBus() as Bus };
  const registry = new PeerRegistry();
  const instanceId = crypto.randomUUID();
  const newId = (context: string) => generateId(context);
  const offlineQueue = new OfflineQueue({
    store,
    registry,
    presence,
    bus,
    instanceId,
    ttlSeconds: settings.relayTtlSeconds,
    quota: settings.offlineQueueQuota,
    newId,
  });
  const router = new Router({
    store,
    offlineQueue,
    log,
    registry,
    presence,
    access: new FriendsPolicy(store, { domain: settings.domain }),
    // Members on other domains go to federation (built below, used only once serving).
    remote: {
      isRemote: (member) => federation.isRemote(member),
      relay: (from, members, frame) => federation.relay(from, members, frame),
    },
    bus,
    instanceId,
    presenceTtlSeconds: settings.presenceTtlSeconds,
    newId,
  });
  const keyring = noiseKeys;
  const limits = new RateLimits(settings.rateLimits, {
    onDenied: (scope) => metrics.rateLimitDenied(scope === "pairing" ? "pairing_claim" : scope),
  });
  const gate = new HandshakeGate(settings.maxHandshakesInFlight, {
    hybridCpuShare: (settings.pqHandshakeCpuPercent ?? 50) / 100,
  });
  const counters: ServerCounters = {
    handshakesOk: 0,
    handshakesFailed: 0,
    framesIn: 0,
    framesOut: 0,
    connectionsByMode: { binary: 0, sse: 0, "long-poll": 0, websocket: 0 },
  };
  const observer: ConnectionObserver = {
    opened: ({ mode }) => counters.connectionsByMode[mode]++,
    closed: ({ mode, connectionId, reason }) => {
      gate.leave(connectionId);
      counters.connectionsByMode[mode]--;
      // Closes the server imposed on a misbehaving client (slow, too_many_errors, frame_timeout…).
      if (!ORDINARY_CLOSE.test(reason)) {
        log.info("connection closed", { connection: connectionId, reason });
      }
    },
    handshake: (info) => {
      gate.leave(info.connectionId);
      recordHandshake(info);
      if (info.ok) counters.handshakesOk++;
      else counters.handshakesFailed++;
      log.info(info.ok ? "handshake ok" : "handshake failed", {
        connection: info.connectionId,
        reason: info.reason,
        device: info.deviceId,
        duration_ms: info.durationMs,
      });
    },
    frameIn: () => counters.framesIn++,
    frameOut: () => counters.framesOut++,
  };
  const metrics = new Metrics({ offlineQueue, version: SERVER_VERSION });
  const calls = wireCalls({ router, registry, metrics, ledger, settings: settings.calls });
  const federation = await buildFederation({
    settings,
    keys,
    store,
    router,
    metrics,
    ledger,
    log,
    newId,
    version: SERVER_VERSION,
  });
  federation.start();
  noiseKeys.onRotation(() => metrics.upstreamCounter("secretRotationsNoise").inc());
  adminTokens.onRotation(() => metrics.upstreamCounter("secretRotationsAdmin").inc());
  const rotationJob = startSecretRotation({ noise: noiseKeys, admin: adminTokens }, {
    logger: log,
  });
  /** Handshake outcomes go to the ledger: the session id is a bearer token, so only its digest. */
  function recordHandshake(
    info: Parameters<NonNullable<ConnectionObserver["handshake"]>>[0],
  ): void {
    if (!info.ok) {
      void ledger.record({
        scope: "handshake",
        result: "failure",
        reason: info.reason ?? "unknown",
      });
      return;
    }
    void ledger.record(
      { scope: "handshake", result: "success", device: info.deviceId, user: info.userId },
      info.sessionId ? blake3(utf8(info.sessionId)) : undefined,
    );
    if (info.action) {
      void ledger.record({
        device: info.deviceId,
        user: info.userId,
        action: info.action,
        source: "handshake",
      });
    }
  }
  const keepaliveIntervalSeconds = Math.max(
    Math.max(Math.floor(settings.keepaliveSeconds / 2), 1),
    5,
  );
  const sessionRuntime = new SessionRuntime({
    presenceTtlSeconds: settings.presenceTtlSeconds,
    sessionTtlSeconds: settings.keepaliveSeconds,
  });
  const deps: ConnectionDeps = {
    handshake: {
      domain: settings.domain,
      prologue: utf8(settings.prologue),
      keyring,
      store,
      ca: keys.ca,
      autoApproveDevices: settings.autoApproveDevices,
      maxAutoDevicesPerUser: settings.maxAutoDevicesPerUser,
      sessionTtlSeconds: settings.keepaliveSeconds,
      keepaliveIntervalSeconds,
      // Longer than the whole ±5 min IK timestamp window, so no replay outlives its entry.
      replay: new ReplayCache(11 * 60_000),
      ikFreshnessMs: 5 * 60_000,
      newId,
      now: Date.now,
      pq: {
        mode: settings.pq ?? "prefer",
        budget: {
          admit: () => gate.admitHybrid(),
          charge: (ms) => gate.chargeHybrid(ms),
        },
      },
    },
    router,
    registry,
    presence,
    store,
    runtime: sessionRuntime,
    instanceId,
    handshakeTimeoutMs: settings.handshakeTimeoutMs,
    partialFrameTimeoutMs: settings.partialFrameTimeoutMs,
    outboundQueueFrames: settings.outboundQueueFrames,
    outboundQueueBytes: settings.outboundQueueBytes,
    inboundQueueBytes: 32 * 1024 * 1024,
    presenceTtlSeconds: settings.presenceTtlSeconds,
    sessionTtlSeconds: settings.keepaliveSeconds,
    log,
    observer: combineObservers(observer, metrics.observer()),
    announce: (deviceId, connectionId) => {
      bus.broadcast({ kind: "kick", deviceId, connectionId }).catch(() => {});
    },
  };
  await bus.subscribe(instanceId, busMessageHandler({ instanceId, registry, router, log }));
  const connections = new Set<ServerConnection>();
  const startedAt = Date.now();
  let stopping = false;
  const connectOptions = {
    deps,
    keepaliveMs: keepaliveIntervalSeconds * 1000,
    admit: (id: string) => gate.enter(id),
    leave: (id: string) => gate.leave(id),
    track: (c: ServerConnection) => {
      connections.add(c);
      c.done.then(() => connections.delete(c));
    },
  };

  const api = buildApi({
    federation,
    settings,
    keys,
    store,
    keyring,
    router,
    registry,
    bus,
    metrics,
    verifyAdminToken,
    ledger,
    counters,
    keepaliveIntervalSeconds,
    newId,
    log,
  });

  // The web client (issue 17): static assets only; disabled, /app is simply not served.
  const web = settings.webClient === false ? null : await createWebClient();
  if (web?.missing) log.warn("web client unavailable", { reason: web.missing });

  const handler = (request: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (stopping && pathname === "/connect") return problem(503, "server is shutting down");
    const clientKey = rateLimitKey(clientIp(request, info, trusted));
    const decision = limits.check(pathname === "/connect" ? "connect" : "http", clientKey);
    if (!decision.allowed) return tooManyRequests(decision.retryAfterMs);
    if (pathname === "/api/pair/claim" || pathname === "/api/pairing/claim") {
      const claim = limits.check("pairing", clientKey);
      if (!claim.allowed) return tooManyRequests(claim.retryAfterMs);
    }
    switch (pathname) {
      case "/connect":
        return handleConnect(request, connectOptions);
      case "/healthz":
        return json({
          status: stopping ? "stopping" : "healthy",
          version: SERVER_VERSION,
          uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
          domain: settings.domain,
          storage: store.backend,
          connections: {
            established: registry.size,
            open: connections.size,
            by_mode: counters.connectionsByMode,
          },
          handshakes: { ok: counters.handshakesOk, failed: counters.handshakesFailed },
          frames: { ingress: counters.framesIn, egress: counters.framesOut },
          relay: { live: router.stats.deliveredLive, enqueued: offlineQueue.stats.enqueued },
        });
      case "/readyz":
        return readiness({ store, presence, bus }, stopping);
      case "/federation/events":
      case "/federation/friend-request":
        return federation.handle(request);
      case "/metrics":
        return serveMetrics(request, metrics, verifyAdminToken);
      default:
        if (web && (pathname === WEB_PREFIX || pathname.startsWith(`${WEB_PREFIX}/`))) {
          return web.handle(request);
        }
        return api.fetch(request);
    }
  };

  const tls = settings.tls ??
    await ensureSelfSignedCertificate(settings.dataDir, { domain: settings.domain });
  const cert = await Deno.readTextFile(tls.certPath);
  const key = await Deno.readTextFile(tls.keyPath);
  const onError = (error: unknown) => {
    log.error("request failed", { error: String(error) });
    return problem(500, "internal server error");
  };
  const server = Deno.serve({
    hostname: settings.hostname,
    port: settings.port,
    cert,
    key,
    onListen: () => {},
    onError,
  }, withRequestLog(handler, log));
  const h2c = settings.h2c
    ? Deno.serve({
      hostname: settings.h2c.hostname,
      port: settings.h2c.port,
      onListen: () => {},
      onError,
    }, withRequestLog(handler, log))
    : null;

  const jobs = [
    setInterval(() => {
      offlineQueue.purge().catch((e) =>
        log.warn("offline queue purge failed", { error: String(e) })
      );
      store.purgeExpiredSessions(new Date()).catch(() => {});
      purgePairings({ store, now: Date.now }).catch((e) =>
        log.warn("pairing code purge failed", { error: String(e) })
      );
      // Federation replay keys, kept past any peer's retries (IDEMPOTENCY_KEY_RETENTION_MS).
      store.purgeIdempotencyKeys(new Date()).catch((e) =>
        log.warn("idempotency key purge failed", { error: String(e) })
      );
      if (presence instanceof MemoryPresence) presence.sweep();
      limits.sweep();
    }, 60_000),
    setInterval(watchBus, 2_000),
  ];
  // While the bus is down, offline-queue notices may be lost: look at the queues
  // anyway. When it comes back (possibly empty: Redis keeps nothing on disk),
  // republish presence, look at every queue now and once more after a
  // presence TTL — senders that found no presence meanwhile sent no notice.
  let busWasHealthy = bus.healthy;
  let lookAgain: ReturnType<typeof setTimeout> | undefined;
  function watchBus(): void {
    const healthy = bus.healthy;
    const kickAll = () => {
      for (const peer of registry.all()) peer.checkOfflineQueue();
    };
    if (!healthy) kickAll();
    else if (!busWasHealthy) {
      for (const peer of registry.all()) peer.refreshPresence();
      kickAll();
      // One pending look-again at a time, however often the bus flaps.
      clearTimeout(lookAgain);
      lookAgain = setTimeout(kickAll, settings.presenceTtlSeconds * 1000);
    }
    busWasHealthy = healthy;
  }

  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      for (const job of jobs) clearInterval(job);
      clearTimeout(lookAgain);
      await rotationJob.stop();
      await federation.stop();
      calls.close();
      // Each established client gets an Error "shutdown"; unacknowledged frames are requeued.
      for (const connection of connections) connection.close("shutdown");
      // Draining connections and finishing HTTP requests share one grace period.
      const deadline = Date.now() + settings.shutdownGraceMs;
      const graceLeft = () => new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
      const drained = Promise.all([...connections].map((c) => c.done));
      await Promise.race([drained, graceLeft()]);
      sessionRuntime.stop();
      await Promise.race([Promise.all([server.shutdown(), h2c?.shutdown()]), graceLeft()]);
      // A backend that is down must not hold the process hostage.
      const bounded = (p: Promise<unknown>) =>
        Promise.race([
          p.catch(() => {}),
          new Promise((r) => setTimeout(r, settings.shutdownGraceMs)),
        ]);
      await bounded(bus.close());
      await bounded(presence.close());
      await bounded(ledger.close());
      await bounded(store.close());
      resolveFinished();
    })();
    return stopped;
  };

  const addr = server.addr as Deno.NetAddr;
  return {
    addr: { hostname: addr.hostname, port: addr.port },
    h2cAddr: h2c
      ? { hostname: (h2c.addr as Deno.NetAddr).hostname, port: (h2c.addr as Deno.NetAddr).port }
      : null,
    domain: settings.domain,
    keys,
    store,
    router,
    counters,
    certificatePem: cert,
    certificatePath: tls.certPath,
    noiseKey: () => noiseKeys.newest(),
    generatedAdminToken,
    adminTokenPath,
    ledger,
    stop,
    finished,
  };
}
