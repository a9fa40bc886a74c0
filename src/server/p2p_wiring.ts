/**
 * The server's P2P part (issue #14): the RaptorQ engine in its
 * permission-less Worker (started on first use), `/api/p2p/assist` content
 * and the authenticated `/p2p` relay, with their metrics.
 *
 * A device's paths in assist are those it measured through `/p2p/probe`
 * (echo probes the server timed) plus, once multipath sessions report them,
 * its live multipath paths (`livePaths`).
 *
 * @module
 */
import { type ApiDeps, ApiError, type ApiP2p, authenticate, problem } from "../api/mod.ts";
import { toHex } from "../crypto/mod.ts";
import { FecEncoder, type RaptorqEngine, WorkerRaptorq } from "../fec/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import {
  AssistRateLimitedError,
  AssistService,
  type LivePath,
  P2pRelay,
  PathProber,
  ProbeBook,
  type RelayIdentity,
} from "../p2p/mod.ts";
import { MAX_FEC_OBJECT, symbolSizeFor } from "../multipath/mod.ts";
import type { AccessPolicy } from "../router/mod.ts";
import type { Listener, TransportDescriptor } from "../transport/listener.ts";

/** What the P2P part is built from. */
export interface P2pParts {
  /** The started listeners (read at each assist). */
  listeners: readonly Listener[];
  access: AccessPolicy;
  metrics: Metrics;
  prologue: string;
  keepaliveIntervalSeconds: number;
  /** A device's live multipath paths (absent: none known). */
  livePaths?: (deviceId: string) => readonly LivePath[];
  /** `transport.websocket_path`: `/connect` served again at this path (listed as its own way in). */
  websocketPath?: string;
}

/**
 * The listeners' own descriptors, plus the WebSocket path alias when one is
 * configured: it rides the TLS (or h2c) listener's port, WebSocket only.
 */
export function configuredTransports(
  listeners: readonly Listener[],
  websocketPath?: string,
): TransportDescriptor[] {
  const own = listeners.map((l) => l.describe());
  const http = own.find((d) => d.kind === "tls") ?? own.find((d) => d.kind === "h2c");
  if (!websocketPath || !http) return own;
  return [...own, {
    ...http,
    kind: "websocket-path",
    configKey: "transport.websocket_path",
    modes: ["websocket"],
    path: websocketPath,
  }];
}

/** The built P2P part. */
export interface P2pWiring {
  readonly engine: RaptorqEngine;
  /** For {@link ApiDeps.p2p}. */
  readonly api: ApiP2p;
  /** Builds the relay once the API's dependencies exist (it authenticates like the API). */
  relay(deps: ApiDeps): P2pRelay;
  /** Builds the path prober (`/p2p/probe`) likewise. */
  prober(deps: ApiDeps): PathProber;
  close(): void;
}

/** Largest symbol the multipath sessions use (`symbolSizeFor` never exceeds it). */
const MAX_SYMBOL_SIZE = symbolSizeFor(MAX_FEC_OBJECT);

/** Builds the P2P part. */
export function wireP2p(p: P2pParts): P2pWiring {
  const engine = new WorkerRaptorq();
  const book = new ProbeBook();
  const assist = new AssistService({
    transports: () => configuredTransports(p.listeners, p.websocketPath),
    livePaths: (deviceId) => [...(p.livePaths?.(deviceId) ?? []), ...book.paths(deviceId)],
    encoder: new FecEncoder(engine, { maxTransferLength: MAX_FEC_OBJECT }),
    // What the multipath sessions' codec does (src/multipath/raptorq.ts), so the plan is theirs.
    fec: { symbolSize: MAX_SYMBOL_SIZE, symbolSizeFor, maxObjectBytes: MAX_FEC_OBJECT },
    keepaliveIntervalSeconds: p.keepaliveIntervalSeconds,
    onAssist: () => p.metrics.p2p.assisted(),
  });
  let relay: P2pRelay | null = null;
  let prober: PathProber | null = null;
  return {
    engine,
    api: {
      prologueHex: toHex(new TextEncoder().encode(p.prologue)),
      async assist(deviceId, request) {
        try {
          return { body: await assist.assist(deviceId, request) };
        } catch (error) {
          if (error instanceof AssistRateLimitedError) return { retryAfterMs: error.retryAfterMs };
          throw error;
        }
      },
    },
    relay(deps) {
      relay ??= new P2pRelay({
        authenticate: (request) => identify(deps, request),
        mayPair: (a, b) => p.access.mayReach(a, b),
        observer: p.metrics.p2p.relay,
      });
      return relay;
    },
    prober(deps) {
      prober ??= new PathProber({ authenticate: (request) => identify(deps, request), book });
      return prober;
    },
    close() {
      relay?.shutdown();
      prober?.shutdown();
      engine.close();
    },
  };
}

/** The device behind a session bearer token, or the API's problem+json refusal. */
async function identify(deps: ApiDeps, request: Request): Promise<RelayIdentity | Response> {
  try {
    const caller = await authenticate(deps, request);
    return { deviceId: caller.device.deviceId, userId: caller.user.userId };
  } catch (error) {
    if (error instanceof ApiError) {
      return problem(error.status, error.message, { headers: error.headers });
    }
    throw error;
  }
}
