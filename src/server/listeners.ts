/**
 * The server's listeners, built from settings: TLS over TCP on `server.bind`;
 * when configured, plaintext HTTP on `server.h2c_bind` (behind a TLS proxy)
 * and the Shadowsocks AEAD listener on `transport.shadowsocks.bind`. All
 * share one set of connection caps (`server.max_connections`,
 * `server.max_connections_per_ip`). A new kind of listener (see
 * src/transport/listener.ts) is added here.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { ConnectionCaps, normalizeIp, rateLimitKey } from "../security/ratelimit/mod.ts";
import type { Listener } from "../transport/listener.ts";
import { ShadowsocksListener } from "../transport/shadowsocks/mod.ts";
import { TcpListener } from "../transport/tls_tcp.ts";
import type { ServerSettings } from "./settings.ts";

/** The bound listeners: `all` in start order, the main (TLS) one first. */
export interface BuiltListeners {
  readonly all: Listener[];
  readonly main: Listener;
  readonly h2c: Listener | null;
  readonly shadowsocks: Listener | null;
}

/** Builds (and binds) the listeners of `settings`; on a bind error none stays open. */
export function buildListeners(
  settings: ServerSettings,
  tls: { cert: string; key: string },
  log: Logger,
): BuiltListeners {
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
  const all: Listener[] = [main];
  try {
    const h2c = settings.h2c
      ? new TcpListener({
        ...common,
        configKey: "server.h2c_bind",
        hostname: settings.h2c.hostname,
        port: settings.h2c.port,
      })
      : null;
    if (h2c) all.push(h2c);
    const ss = settings.shadowsocks;
    const shadowsocks = ss
      ? new ShadowsocksListener({
        ...common,
        configKey: "transport.shadowsocks.bind",
        hostname: ss.hostname,
        port: ss.port,
        method: ss.method,
        password: ss.password,
        tls,
      })
      : null;
    if (shadowsocks) all.push(shadowsocks);
    return { all, main, h2c, shadowsocks };
  } catch (error) {
    for (const listener of all) listener.close();
    throw error;
  }
}
