/**
 * The server's P2P part (issue #14): the RaptorQ engine in its
 * permission-less Worker (started on first use), `/api/p2p/assist` content
 * and the authenticated `/p2p` relay, with their metrics.
 *
 * Live paths per device come from the multipath sessions once they report
 * them (`livePaths`); until then assist lists none and plans for the paths
 * the caller asks about.
 *
 * @module
 */
import { type ApiDeps, ApiError, type ApiP2p, authenticate, problem } from "../api/mod.ts";
import { toHex } from "../crypto/mod.ts";
import { DEFAULT_SYMBOL_SIZE, FecEncoder, type RaptorqEngine, WorkerRaptorq } from "../fec/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import { AssistRateLimitedError, AssistService, type LivePath, P2pRelay } from "../p2p/mod.ts";
import type { AccessPolicy } from "../router/mod.ts";
import type { Listener } from "../transport/listener.ts";

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
}

/** The built P2P part. */
export interface P2pWiring {
  readonly engine: RaptorqEngine;
  /** For {@link ApiDeps.p2p}. */
  readonly api: ApiP2p;
  /** Builds the relay once the API's dependencies exist (it authenticates like the API). */
  relay(deps: ApiDeps): P2pRelay;
  close(): void;
}

/** Largest FEC object the server's sessions use (a batch of ciphertexts). */
const MAX_OBJECT_BYTES = 1 << 20;

/** Builds the P2P part. */
export function wireP2p(p: P2pParts): P2pWiring {
  const engine = new WorkerRaptorq();
  const assist = new AssistService({
    transports: () => p.listeners.map((l) => l.describe()),
    livePaths: (deviceId) => p.livePaths?.(deviceId) ?? [],
    encoder: new FecEncoder(engine, { maxTransferLength: MAX_OBJECT_BYTES }),
    fec: { symbolSize: DEFAULT_SYMBOL_SIZE, maxObjectBytes: MAX_OBJECT_BYTES },
    keepaliveIntervalSeconds: p.keepaliveIntervalSeconds,
    onAssist: () => p.metrics.p2p.assisted(),
  });
  let relay: P2pRelay | null = null;
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
        authenticate: async (request) => {
          try {
            const caller = await authenticate(deps, request);
            return { deviceId: caller.device.deviceId, userId: caller.user.userId };
          } catch (error) {
            if (error instanceof ApiError) {
              return problem(error.status, error.message, { headers: error.headers });
            }
            throw error;
          }
        },
        mayPair: (a, b) => p.access.mayReach(a, b),
        observer: p.metrics.p2p.relay,
      });
      return relay;
    },
    close() {
      relay?.shutdown();
      engine.close();
    },
  };
}
