/**
 * Turns the loaded configuration into server settings.
 *
 * @module
 */
import { type Config, parseBind } from "../config/mod.ts";
import { fromHex } from "../crypto/mod.ts";
import { parsePaddingPolicy } from "../proto/mod.ts";
import { rateLimitRules } from "../security/ratelimit/mod.ts";
import { rotationSettingsFromConfig } from "../security/rotation/mod.ts";
import type { ServerSettings } from "./settings.ts";

/** Server settings from `config`; `migrate` comes from the command line. */
export function settingsFromConfig(
  config: Config,
  options: { migrate?: boolean } = {},
): ServerSettings {
  const bind = parseBind(config.server.bind);
  const s = config.server;
  return {
    hostname: bind.hostname,
    port: bind.port,
    h2c: s.h2cBind ? parseBind(s.h2cBind) : undefined,
    shadowsocks: config.transport.shadowsocks.bind
      ? {
        ...parseBind(config.transport.shadowsocks.bind),
        method: config.transport.shadowsocks.method,
        password: config.transport.shadowsocks.password!,
      }
      : undefined,
    pt: config.transport.pt.bind
      ? {
        ...parseBind(config.transport.pt.bind),
        binary: config.transport.pt.binary,
        transport: config.transport.pt.transport,
        stateDir: config.transport.pt.stateDir,
        options: config.transport.pt.options,
      }
      : undefined,
    websocketPath: config.transport.websocketPath,
    domain: s.domain,
    dataDir: s.dataDir,
    tls: s.tlsCert && s.tlsKey ? { certPath: s.tlsCert, keyPath: s.tlsKey } : null,
    sqlitePath: config.storage.sqlitePath,
    storage: config.storage.backend === "postgres"
      ? { backend: "postgres", dsn: config.storage.postgresDsn!, poolSize: config.storage.poolSize }
      : { backend: "sqlite" },
    presence: config.presence.backend === "redis"
      ? { backend: "redis", url: config.storage.redisUrl! }
      : { backend: "memory" },
    migrate: options.migrate ?? false,
    prologue: config.crypto.prologue,
    noiseKey: config.crypto.noisePrivate && config.crypto.noisePublic
      ? {
        privateKey: fromHex(config.crypto.noisePrivate),
        publicKey: fromHex(config.crypto.noisePublic),
      }
      : null,
    federationSeed: config.crypto.federationSeed ? fromHex(config.crypto.federationSeed) : null,
    keepaliveSeconds: s.keepalive,
    autoApproveDevices: s.autoApproveDevices,
    maxAutoDevicesPerUser: s.maxAutoDevicesPerUser,
    handshakeTimeoutMs: s.handshakeTimeoutMs,
    partialFrameTimeoutMs: s.partialFrameTimeoutMs,
    rekeyAfterMessages: s.rekeyAfterMessages,
    multipath: config.multipath.enabled
      ? {
        maxPaths: config.multipath.maxPaths,
        lingerMs: config.multipath.lingerMs,
        policy: config.multipath.policy,
      }
      : false,
    rekeyAfterMs: s.rekeyAfterMinutes * 60_000,
    outboundQueueFrames: s.outboundQueueFrames,
    outboundQueueBytes: s.outboundQueueBytes,
    presenceTtlSeconds: config.limits.presenceTtl,
    relayTtlSeconds: config.limits.relayTtl,
    offlineQueueQuota: {
      recipientFrames: config.limits.offlineQueueFrames,
      recipientBytes: config.limits.offlineQueueBytes,
      senderFrames: config.limits.offlineQueueSenderFrames,
      senderBytes: config.limits.offlineQueueSenderBytes,
    },
    shutdownGraceMs: s.shutdownGraceMs,
    durableCopyDelayMs: config.router.durableCopyDelayMs,
    adminToken: config.admin.token,
    rotation: rotationSettingsFromConfig(config),
    ledger: { mode: config.ledger.mode, target: config.ledger.target },
    calls: {
      maxActive: config.calls.maxActive,
      maxParticipants: config.calls.maxParticipants,
      ringTimeoutSeconds: config.calls.ringTimeout,
      transcodeAudioStreams: config.calls.transcodeAudioStreams,
      transcodeVideoStreams: config.calls.transcodeVideoStreams,
      libavWasm: config.calls.libavWasm,
      turn: config.ice.turn,
      turnTtlSeconds: config.ice.turnTtl,
      stunBind: config.ice.liteEnabled
        ? parseBind(config.ice.liteBind ?? "0.0.0.0:3478")
        : undefined,
    },
    rateLimits: rateLimitRules(config.security.rateLimit),
    trustedProxies: config.security.trustedProxies,
    maxHandshakesInFlight: s.maxHandshakesInFlight,
    connections: {
      firstRequestTimeoutMs: s.firstRequestTimeoutMs,
      maxTotal: s.maxConnections,
      maxPerIp: s.maxConnectionsPerIp,
    },
    accept: s.accept,
    idleReclaim: s.idleReclaim,
    loopDelaySampleMs: s.loopDelaySampleMs,
    pq: config.crypto.pq,
    padding: parsePaddingPolicy(config.crypto.padding),
    pqHandshakeCpuPercent: s.pqHandshakeCpuPercent,
    pairingTtlSeconds: config.limits.pairingTtl,
    deviceRotation: {
      enabled: config.rotation.device.enabled,
      minIntervalSeconds: config.rotation.device.minInterval,
      proofTtlSeconds: config.rotation.device.proofTtl,
      notifyChannel: config.rotation.device.notifyChannel,
    },
    uploads: {
      dir: config.uploads.dir,
      baseUrl: config.uploads.baseUrl,
      maxBytesPerUser: config.uploads.maxBytesPerUser,
    },
    federation: { peers: [...config.federation.peers], caFile: config.federation.caFile },
    webClient: config.web.enabled,
  };
}
