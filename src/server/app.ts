/**
 * The composition root: builds every part of the server from settings, wires
 * them together and starts the listeners. The parts live beside it: the HTTP
 * app (./http_app.ts), sessions (./session_wiring.ts), observers
 * (./observers.ts), background jobs (./jobs.ts), the shutdown sequence
 * (./shutdown.ts) and the listeners (./listeners.ts).
 *
 * @module
 */
import { generateId } from "../crypto/mod.ts";
import { createLedger, type Ledger } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import { combineObservers, Metrics } from "../metrics/mod.ts";
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
import { HandshakeGate, RateLimits, TrustedProxies } from "../security/ratelimit/mod.ts";
import {
  AdminTokenManager,
  NoiseKeyManager,
  startSecretRotation,
} from "../security/rotation/mod.ts";
import { ensureSelfSignedCertificate } from "../security/tls/mod.ts";
import { type NoiseKey, SessionRuntime } from "../session/mod.ts";
import { openStore, type Store } from "../storage/mod.ts";
import type { ConnectionSink, Listener } from "../transport/listener.ts";
import { createWebClient } from "../web/mod.ts";
import { buildApi } from "./api_wiring.ts";
import { busMessageHandler } from "./bus_handler.ts";
import { wireCalls } from "./calls_wiring.ts";
import { buildFederation } from "./federation_wiring.ts";
import { createHttpApp, type ServerState } from "./http_app.ts";
import { measureHybridReplyMs } from "./pq_cost.ts";
import { startBackgroundJobs } from "./jobs.ts";
import { startIdleReclaim } from "./idle_reclaim.ts";
import { LoopDelayMonitor } from "../metrics/loop_delay.ts";
import { loadServerKeys, type ServerKeys } from "./keys.ts";
import { buildListeners, type BuiltListeners } from "./listeners.ts";
import { formatPtArgs } from "../transport/pt/mod.ts";
import { newServerCounters, type ServerCounters, serverObserver } from "./observers.ts";
import { wireP2p } from "./p2p_wiring.ts";
import type { ConnectHandlerOptions } from "./connect.ts";
import { buildSessions, keepaliveIntervalSeconds } from "./session_wiring.ts";
import { type ServerSettings, storeSettingsOf } from "./settings.ts";
import { shutdownSequence } from "./shutdown.ts";
import { SERVER_VERSION } from "./version.ts";

export { SERVER_VERSION } from "./version.ts";
export type { ServerCounters } from "./observers.ts";

/** A running server. */
export interface RunningServer {
  /** Where it listens (resolved port when 0 was asked). */
  readonly addr: { hostname: string; port: number };
  readonly h2cAddr: { hostname: string; port: number } | null;
  /** The Shadowsocks listener's address (`transport.shadowsocks.bind`), when configured. */
  readonly shadowsocksAddr: { hostname: string; port: number } | null;
  /** The pluggable transport's public address and client arguments (`transport.pt.bind`), when configured. */
  readonly pt: { addr: { hostname: string; port: number }; bridgeArgs: string } | null;
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
  /**
   * What `/connect` builds its sessions with: an embedder (the in-process
   * bench, bench/inprocess_pairs.ts) can open sessions over its own links.
   */
  readonly connect: ConnectHandlerOptions;
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
  const adminTokenPath = `${settings.dataDir}/admin-token`;
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
    durableCopyDelayMs: settings.durableCopyDelayMs,
    // Several instances: copies for devices on the others are held in the window too.
    crossInstanceWindow: settings.presence.backend === "redis",
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
  const metrics = new Metrics({ offlineQueue, version: SERVER_VERSION });
  const calls = await wireCalls({ router, registry, metrics, ledger, settings: settings.calls });
  const limits = new RateLimits(settings.rateLimits, {
    onDenied: (scope) => metrics.rateLimitDenied(scope === "pairing" ? "pairing_claim" : scope),
  });
  // The CPU one hybrid Hello reply costs here, charged against pq_handshake_cpu_percent
  // (measured now, idle: wall time under load would count queueing as work).
  const hybridReplyMs = settings.pq === "off" ? 0 : await measureHybridReplyMs();
  const gate = new HandshakeGate(settings.maxHandshakesInFlight, {
    hybridCpuShare: (settings.pqHandshakeCpuPercent ?? 50) / 100,
    hybridCostMs: hybridReplyMs,
  });
  const counters = newServerCounters();
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
  const runtime = new SessionRuntime({
    presenceTtlSeconds: settings.presenceTtlSeconds,
    sessionTtlSeconds: settings.keepaliveSeconds,
  }, settings.handshakeTimeoutMs);
  const sessions = buildSessions({
    runtime,
    settings,
    keys,
    keyring: noiseKeys,
    store,
    router,
    registry,
    presence,
    bus,
    instanceId,
    gate,
    observer: combineObservers(
      serverObserver({ counters, gate, ledger, log }),
      metrics.observer(),
    ),
    log,
  });
  await bus.subscribe(instanceId, busMessageHandler({ instanceId, registry, router, log }));

  // Listeners are bound last; assist reads this list at each request.
  const started: Listener[] = [];
  const hub = sessions.connect.deps.multipath;
  if (hub) metrics.watchMultipath(() => hub.stats());
  const p2p = wireP2p({
    // A multipath session's paths; figures come from /p2p/probe (none measured on these yet).
    livePaths: (deviceId) =>
      hub?.pathsOf(deviceId).map((path) => ({ id: path.id, mode: path.mode, quality: null })) ?? [],
    listeners: started,
    websocketPath: settings.websocketPath,
    access: new FriendsPolicy(store, { domain: settings.domain }),
    metrics,
    prologue: settings.prologue,
    keepaliveIntervalSeconds: keepaliveIntervalSeconds(settings),
  });
  const api = buildApi({
    p2p: p2p.api,
    federation,
    settings,
    keys,
    store,
    keyring: noiseKeys,
    router,
    registry,
    bus,
    metrics,
    verifyAdminToken,
    ledger,
    counters,
    multipath: hub,
    keepaliveIntervalSeconds: keepaliveIntervalSeconds(settings),
    newId,
    log,
  });
  // The web client (issue 17): static assets only; disabled, /app is simply not served.
  const web = settings.webClient === false ? null : await createWebClient();
  if (web?.missing) log.warn("web client unavailable", { reason: web.missing });
  const state: ServerState = { stopping: false, startedAt: Date.now() };
  const app = createHttpApp({
    state,
    domain: settings.domain,
    store,
    presence,
    bus,
    registry,
    router,
    offlineQueue,
    counters,
    openConnections: sessions.open,
    connect: sessions.connect,
    connectAlias: settings.websocketPath,
    federation,
    metrics,
    verifyAdminToken,
    api,
    p2pRelay: p2p.relay(api.deps),
    p2pProbe: p2p.prober(api.deps),
    web,
    limits,
    trusted,
    log,
  });

  const tls = settings.tls ??
    await ensureSelfSignedCertificate(settings.dataDir, { domain: settings.domain });
  const cert = await Deno.readTextFile(tls.certPath);
  const key = await Deno.readTextFile(tls.keyPath);
  // After a handshake burst, the first quiet half second gives its garbage back (idle_reclaim.ts).
  const reclaim = settings.idleReclaim === false ? { stop() {} } : startIdleReclaim(counters, log);
  const loopDelay = settings.loopDelaySampleMs
    ? new LoopDelayMonitor(metrics.loopDelay, settings.loopDelaySampleMs)
    : null;
  loopDelay?.start();
  const jobs = startBackgroundJobs({
    store,
    offlineQueue,
    presence,
    bus,
    registry,
    limits,
    presenceTtlSeconds: settings.presenceTtlSeconds,
    log,
  });
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let built: BuiltListeners | null = null;
  const shutdown = shutdownSequence({
    state,
    workers: [
      () => reclaim.stop(),
      () => loopDelay?.stop(),
      () => jobs.stop(),
      () => rotationJob.stop(),
      () => federation.stop(),
      () => calls.close(),
      () => p2p.close(),
    ],
    connections: sessions.open,
    afterDrain: () => {
      runtime.stop();
      sessions.connect.deps.multipath?.close();
    },
    listeners: started,
    backends: [
      // Acknowledged copies still in this turn's batch are written before the store closes.
      () => offlineQueue.flush(),
      () => bus.close(),
      () => presence.close(),
      () => ledger.close(),
      () => store.close(),
    ],
    graceMs: settings.shutdownGraceMs,
  });
  const sink: ConnectionSink = { handle: (request, info) => app.fetch(request, info) };
  try {
    // Binding throws a ListenError naming the address and its config key.
    built = await buildListeners(settings, { cert, key }, log, {
      pt: metrics.pt,
      refused: (listener, reason) => metrics.connectionRefused(listener, reason),
    });
    started.push(...built.all);
  } catch (error) {
    await shutdown();
    throw error;
  }
  for (const listener of started) listener.start(sink);
  const stop = () => shutdown().then(resolveFinished);

  const addressOf = (a: Deno.NetAddr) => ({ hostname: a.hostname, port: a.port });
  return {
    addr: addressOf(built.main.addr),
    h2cAddr: built.h2c ? addressOf(built.h2c.addr) : null,
    shadowsocksAddr: built.shadowsocks ? addressOf(built.shadowsocks.addr) : null,
    pt: built.pt
      ? {
        addr: addressOf(built.pt.addr),
        bridgeArgs: formatPtArgs(built.pt.bridgeArgs),
      }
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
    connect: sessions.connect,
    stop,
    finished,
  };
}
