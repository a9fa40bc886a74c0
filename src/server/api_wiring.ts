/**
 * Builds the REST API's dependencies from the server's parts, so the
 * composition root only mounts it.
 *
 * @module
 */
import type { MultipathStats } from "../multipath/mod.ts";
import { type ApiDeps, type ApiFederation, type ApiP2p, createApi } from "../api/mod.ts";
import { toHex } from "../crypto/mod.ts";
import type { Ledger } from "../ledger/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Bus, PeerRegistry, Router } from "../router/mod.ts";
import { describeNoiseKey, type NoiseKeyring } from "../session/mod.ts";
import { RateLimiter } from "../security/ratelimit/mod.ts";
import type { Store } from "../storage/mod.ts";
import type { ServerKeys } from "./keys.ts";
import type { ServerSettings } from "./settings.ts";

/**
 * Key-package takes per user (docs/PROTOCOL.md "End-to-end encryption"):
 * enough to add a few dozen friends' devices to groups in a minute, too few
 * to drain a device's 200 one-time packages quickly.
 */
const KEY_PACKAGE_TAKE_RULE = { burst: 120, windowMs: 60_000, penaltyMs: 0 };

/** The server parts the API is wired to. */
export interface ApiParts {
  settings: ServerSettings;
  keys: ServerKeys;
  store: Store;
  keyring: NoiseKeyring;
  router: Router;
  registry: PeerRegistry;
  bus: Bus;
  metrics: Metrics;
  /** Null when no admin token is configured: admin endpoints refuse everyone. */
  verifyAdminToken: (token: string) => boolean | Promise<boolean>;
  ledger: Ledger;
  counters: { handshakesOk: number; handshakesPq: number };
  keepaliveIntervalSeconds: number;
  newId: (context: string) => string;
  log: Logger;
  federation?: ApiFederation;
  /** `/api/p2p/assist` content. */
  p2p?: ApiP2p;
  /** Multipath figures for `/api/security-stats` (absent: multipath is off). */
  multipath?: { stats(): MultipathStats };
}

/** The API's dependencies for this server. */
export function apiDeps(p: ApiParts): ApiDeps {
  const s = p.settings;
  return {
    store: p.store,
    domain: s.domain,
    ca: p.keys.ca,
    config: {
      pq: s.pq,
      pairingTtlSeconds: s.pairingTtlSeconds,
      autoApproveDevices: s.autoApproveDevices,
      maxAutoDevicesPerUser: s.maxAutoDevicesPerUser,
      rotation: s.deviceRotation,
      uploads: s.uploads ?? {
        dir: `${s.dataDir}/uploads`,
        baseUrl: `https://${s.domain}/uploads`,
      },
      presenceTtlSeconds: s.presenceTtlSeconds,
      sessionTtlSeconds: s.keepaliveSeconds,
      keepaliveIntervalSeconds: p.keepaliveIntervalSeconds,
    },
    noise: () => {
      const active = p.keyring.active();
      return {
        noise_public: toHex(active[0].publicKey),
        noise_keys: active.map((k) => describeNoiseKey(k, toHex)),
      };
    },
    deliverToDevice: (deviceId, frame, senderUser) =>
      p.router.deliverTo(deviceId, frame, senderUser),
    friendshipsEnded: async () => {
      p.router.forgetReachability();
      // Other instances forget theirs; if this notice is lost, their entries expire.
      await p.bus.broadcast({ kind: "reachability" }).catch((error: unknown) =>
        p.log.warn("reachability notice not sent", { error: String(error) })
      );
    },
    disconnectDevice: async (deviceId, reason) => {
      p.registry.get(deviceId)?.close(reason);
      // Other instances close theirs on a kick naming no live connection id.
      await p.bus.broadcast({ kind: "kick", deviceId, connectionId: "", reason }).catch(
        (error: unknown) => p.log.warn("revocation kick not sent", { error: String(error) }),
      );
    },
    verifyAdminToken: p.verifyAdminToken,
    ledger: p.ledger,
    securityStats: () => {
      const m = p.multipath?.stats();
      return {
        noise_handshakes: p.counters.handshakesOk,
        pq_handshakes: p.counters.handshakesPq,
        fec_packets: m?.fecPackets ?? 0,
        multipath_sessions: m?.sessionsStarted ?? 0,
        average_paths: m && m.liveSessions > 0 ? m.livePaths / m.liveSessions : 0,
      };
    },
    newId: p.newId,
    now: Date.now,
    log: p.log,
    onDeviceRotation: () => p.metrics.upstreamCounter("deviceRotations").inc(),
    federation: p.federation,
    p2p: p.p2p,
    keyPackageTakes: new RateLimiter(KEY_PACKAGE_TAKE_RULE),
  };
}

/** The mounted API of this server, and the dependencies it was built from. */
export function buildApi(
  p: ApiParts,
): { fetch(request: Request): Response | Promise<Response>; deps: ApiDeps } {
  const deps = apiDeps(p);
  const app = createApi(deps);
  return { fetch: (request) => app.fetch(request), deps };
}
