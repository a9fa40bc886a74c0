/**
 * Starts a server inside the test process on an ephemeral port with a
 * temporary data directory.
 */
import {
  defaultSettings,
  type RunningServer,
  type ServerParts,
  type ServerSettings,
  startServer,
} from "../../src/server/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import type { ServerHandle } from "./devices.ts";

/** A started in-process server and its handle for clients. */
export interface TestServer extends ServerHandle {
  server: RunningServer;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts a server; stop it with `stop()` (also removes the data dir). */
export async function startTestServer(
  overrides: Partial<ServerSettings> = {},
  parts: ServerParts = {},
): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? await Deno.makeTempDir({ prefix: "commucat-test-" });
  const settings = defaultSettings({
    hostname: "127.0.0.1",
    port: 0,
    dataDir,
    sqlitePath: `${dataDir}/commucat.db`,
    // Every test client comes from 127.0.0.1: one address must not trip the limits.
    rateLimits: {
      http: { burst: 1_000_000, windowMs: 1_000, penaltyMs: 0 },
      connect: { burst: 1_000_000, windowMs: 1_000, penaltyMs: 0 },
      pairing: { burst: 1_000_000, windowMs: 1_000, penaltyMs: 0 },
    },
    connections: { firstRequestTimeoutMs: 10_000, maxTotal: 16_384, maxPerIp: 100_000 },
    ...overrides,
  });
  const server = await startServer(settings, silentLogger, parts);
  return {
    server,
    dataDir,
    url: `https://localhost:${server.addr.port}`,
    domain: server.domain,
    noisePublic: server.noiseKey().publicKey,
    certificatePem: server.certificatePem,
    async stop() {
      await server.stop();
      if (!overrides.dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
