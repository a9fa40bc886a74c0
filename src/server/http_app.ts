/**
 * Every HTTP endpoint of the server as one Hono app: `/connect`, `/healthz`,
 * `/readyz`, `/metrics`, `/federation/*` and the REST API, behind the
 * middleware every request passes (errors logged with a request id; 503 for
 * new sessions while stopping; per-client rate limits). Listeners hand it
 * requests as `app.fetch(request, info)`, `info` naming the client socket.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { json, problem } from "../http/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type Metrics, serveMetrics, type VerifyAdminToken } from "../metrics/mod.ts";
import type { Bus, OfflineQueue, PeerRegistry, Presence, Router } from "../router/mod.ts";
import {
  type RateLimitEnv,
  rateLimitMiddleware,
  type RateLimits,
  type TrustedProxies,
} from "../security/ratelimit/mod.ts";
import type { Store } from "../storage/mod.ts";
import { type ConnectHandlerOptions, handleConnect } from "./connect.ts";
import { connectRoute } from "./connect_route.ts";
import { requestFailed } from "./log.ts";
import type { ServerCounters } from "./observers.ts";
import { readiness } from "./readiness.ts";
import { WEB_PREFIX } from "../web/mod.ts";
import { SERVER_VERSION } from "./version.ts";

/** What a request carries besides itself: the connection it came on. */
export type ServerEnv = RateLimitEnv;

/** The server's HTTP app: `/connect` in front ({@link connectRoute}), the Hono app behind. */
export interface ServerApp {
  fetch(request: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response>;
}

/** Whether the server is shutting down (shared by the app and the shutdown sequence). */
export interface ServerState {
  stopping: boolean;
  readonly startedAt: number;
}

/** The parts the endpoints are served from. */
export interface HttpParts {
  state: ServerState;
  domain: string;
  store: Store;
  presence: Presence;
  bus: Bus;
  registry: PeerRegistry;
  router: Router;
  offlineQueue: OfflineQueue;
  counters: ServerCounters;
  /** Open `/connect` connections (handshaking or established). */
  openConnections: ReadonlySet<unknown>;
  connect: ConnectHandlerOptions;
  /** `transport.websocket_path`: `/connect` served at this path too (for a CDN front). */
  connectAlias?: string;
  federation: { handle(request: Request): Response | Promise<Response> };
  metrics: Metrics;
  verifyAdminToken: VerifyAdminToken;
  api: { fetch(request: Request): Response | Promise<Response> };
  /** The `/p2p` relay (absent: not served). */
  p2pRelay?: { handle(request: Request): Promise<Response> };
  /** The `/p2p/probe` echo prober (absent: not served). */
  p2pProbe?: { handle(request: Request): Promise<Response> };
  /** The web client under {@link WEB_PREFIX}; null when disabled (`web.enabled = false`). */
  web: { handle(request: Request): Response } | null;
  limits: RateLimits;
  trusted: TrustedProxies;
  log: Logger;
}

/** Refuses new sessions with 503 while the server is stopping. */
export function stoppingMiddleware(state: ServerState): MiddlewareHandler<ServerEnv> {
  return async (_c, next) => {
    if (state.stopping) return problem(503, "server is shutting down");
    await next();
    return undefined;
  };
}

/** The `/healthz` body: liveness plus the live counters. */
export function healthReport(p: HttpParts): Record<string, unknown> {
  return {
    status: p.state.stopping ? "stopping" : "healthy",
    version: SERVER_VERSION,
    uptime_seconds: Math.floor((Date.now() - p.state.startedAt) / 1000),
    domain: p.domain,
    storage: p.store.backend,
    connections: {
      established: p.registry.size,
      open: p.openConnections.size,
      by_mode: p.counters.connectionsByMode,
    },
    handshakes: { ok: p.counters.handshakesOk, failed: p.counters.handshakesFailed },
    frames: { ingress: p.counters.framesIn, egress: p.counters.framesOut },
    relay: {
      live: p.router.stats.deliveredLive,
      enqueued: p.offlineQueue.stats.enqueued,
      kept_written: p.offlineQueue.stats.kept,
      kept_acknowledged_in_window: p.offlineQueue.windowStats.acknowledgedInWindow,
      bus_carried_delivered: p.router.stats.busCarriedDelivered,
      bus_queue_reads: p.router.stats.busQueueReads,
      bus_held_copies_messages: p.offlineQueue.carried.stats.messages,
    },
  };
}

/** Builds the app. */
export function createHttpApp(p: HttpParts): ServerApp {
  const connectPaths = p.connectAlias ? ["/connect", p.connectAlias] : ["/connect"];
  const app = honoApp(p, connectPaths);
  const connect = connectRoute(p, new Set(connectPaths));
  return {
    fetch: (request, info) => connect(request, info) ?? app.fetch(request, info),
  };
}

/**
 * Every endpoint as a Hono app, `/connect` included (what {@link connectRoute}
 * answers in front of it, kept so the app stays whole on its own).
 */
export function honoApp(p: HttpParts, connectPaths: readonly string[]): Hono<ServerEnv> {
  // Routes and limits see the raw (percent-encoded) path, as the REST API does.
  const app = new Hono<ServerEnv>({ getPath: (request) => new URL(request.url).pathname });
  app.onError((error, c) => requestFailed(error, c.req.raw, p.log));
  for (const path of connectPaths) app.use(path, stoppingMiddleware(p.state));
  app.use("*", rateLimitMiddleware(p.limits, p.trusted, new Set(connectPaths)));
  for (const path of connectPaths) app.all(path, (c) => handleConnect(c.req.raw, p.connect));
  app.all("/healthz", () => json(healthReport(p)));
  app.all("/readyz", () => readiness(p, p.state.stopping));
  app.all("/metrics", (c) => serveMetrics(c.req.raw, p.metrics, p.verifyAdminToken));
  if (p.p2pRelay) {
    const relay = p.p2pRelay;
    app.use("/p2p", stoppingMiddleware(p.state));
    app.all("/p2p", (c) => relay.handle(c.req.raw));
  }
  if (p.p2pProbe) {
    const prober = p.p2pProbe;
    app.use("/p2p/probe", stoppingMiddleware(p.state));
    app.all("/p2p/probe", (c) => prober.handle(c.req.raw));
  }
  app.all("/federation/events", (c) => p.federation.handle(c.req.raw));
  app.all("/federation/friend-request", (c) => p.federation.handle(c.req.raw));
  app.all("/federation/key-package", (c) => p.federation.handle(c.req.raw));
  app.all("/federation/e2e-devices", (c) => p.federation.handle(c.req.raw));
  if (p.web) {
    const web = p.web;
    app.all(WEB_PREFIX, (c) => web.handle(c.req.raw));
    app.all(`${WEB_PREFIX}/*`, (c) => web.handle(c.req.raw));
  }
  app.all("*", (c) => p.api.fetch(c.req.raw));
  return app;
}
