/**
 * The server's listeners, built from settings: TLS over TCP on `server.bind`
 * and, when configured, plaintext HTTP on `server.h2c_bind` (behind a TLS
 * proxy). Both share one set of connection caps (`server.max_connections`,
 * `server.max_connections_per_ip`). A new kind of listener (see
 * src/transport/listener.ts) is added here.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { ConnectionCaps, normalizeIp, rateLimitKey } from "../security/ratelimit/mod.ts";
import type { Listener } from "../transport/listener.ts";
import { TcpListener } from "../transport/tls_tcp.ts";
import type { ServerSettings } from "./settings.ts";

/** Builds (and binds) the listeners of `settings`, the main (TLS) one first. */
export function buildListeners(
  settings: ServerSettings,
  tls: { cert: string; key: string },
  log: Logger,
): Listener[] {
  const limits = settings.connections;
  const caps = new ConnectionCaps({ maxTotal: limits.maxTotal, maxPerClient: limits.maxPerIp });
  // The socket peer, keyed as the rate limits key a client (IPv6 by its /64).
  const admit = (remote: Deno.NetAddr) => {
    const ip = remote.hostname.replace(/%.*$/, "");
    return caps.open(rateLimitKey(normalizeIp(ip) ?? ip));
  };
  const common = { firstRequestTimeoutMs: limits.firstRequestTimeoutMs, admit, log };
  const main = new TcpListener({
    ...common,
    configKey: "server.bind",
    hostname: settings.hostname,
    port: settings.port,
    tls,
  });
  if (!settings.h2c) return [main];
  try {
    return [
      main,
      new TcpListener({
        ...common,
        configKey: "server.h2c_bind",
        hostname: settings.h2c.hostname,
        port: settings.h2c.port,
      }),
    ];
  } catch (error) {
    main.close();
    throw error;
  }
}
