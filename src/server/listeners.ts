/**
 * The server's listeners, built from settings: TLS over TCP on `server.bind`;
 * when configured, plaintext HTTP on `server.h2c_bind` (behind a TLS proxy)
 * the Shadowsocks AEAD listener on `transport.shadowsocks.bind` and the
 * pluggable-transport listener (an obfs4proxy child) on `transport.pt.bind`. All
 * share one set of connection caps (`server.max_connections`,
 * `server.max_connections_per_ip`). `server.accept = "direct"` serves the TLS
 * and h2c listeners with `Deno.serve` on the port (no loopback pump; caps per
 * request and WebSocket session). A new kind of listener (see
 * src/transport/listener.ts) is added here.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { RefusingListener } from "../metrics/mod.ts";
import { ConnectionCaps, peerAddress } from "../security/ratelimit/mod.ts";
import type { Listener } from "../transport/listener.ts";
import { PtListener, type PtObserver } from "../transport/pt/mod.ts";
import { ShadowsocksListener } from "../transport/shadowsocks/mod.ts";
import { DirectListener } from "../transport/direct_serve.ts";
import { TcpListener } from "../transport/tls_tcp.ts";
import type { ServerSettings } from "./settings.ts";

/** The bound listeners: `all` in start order, the main (TLS) one first. */
export interface BuiltListeners {
  readonly all: Listener[];
  readonly main: Listener;
  readonly h2c: Listener | null;
  readonly shadowsocks: Listener | null;
  readonly pt: PtListener | null;
}

/**
 * Builds (and binds) the listeners of `settings`, waiting for a PT child to
 * listen; on an error none stays open (and no child runs).
 */
export async function buildListeners(
  settings: ServerSettings,
  tls: { cert: string; key: string },
  log: Logger,
  hooks: {
    pt?: PtObserver;
    /** Each connection (guarded) or request (direct) a listener refuses, with why (metrics). */
    refused?: (listener: RefusingListener, reason: string) => void;
  } = {},
): Promise<BuiltListeners> {
  const limits = settings.connections;
  const caps = new ConnectionCaps({ maxTotal: limits.maxTotal, maxPerClient: limits.maxPerIp });
  // The socket peer, keyed as the rate limits key a client (IPv6 by its /64); parsed once per
  // address object, which the `/connect` rate limit then finds parsed (`clientKey`).
  const clientKey = (remote: Deno.NetAddr) =>
    peerAddress(remote)?.key ?? remote.hostname.replace(/%.*$/, "");
  // Every listener holds a slot per open connection: a ticket object, not a closure.
  const admit = (remote: Deno.NetAddr) => caps.admit(clientKey(remote));
  const common = { firstRequestTimeoutMs: limits.firstRequestTimeoutMs, admit, log };
  const onDrop = (listener: RefusingListener) =>
    hooks.refused && ((reason: string) => hooks.refused!(listener, reason));
  // `server.accept`: the HTTP listeners guarded (own accept + loopback pump) or served directly.
  const http = (options: { configKey: string; hostname: string; port: number; tls?: typeof tls }) =>
    settings.accept === "direct"
      ? new DirectListener({ ...options, admit, log, onDrop: onDrop("http") })
      : new TcpListener({ ...common, ...options, onDrop: onDrop("http") });
  const main = http({
    configKey: "server.bind",
    hostname: settings.hostname,
    port: settings.port,
    tls,
  });
  const all: Listener[] = [main];
  try {
    const h2c = settings.h2c
      ? http({
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
        onDrop: onDrop("shadowsocks"),
      })
      : null;
    if (shadowsocks) all.push(shadowsocks);
    const p = settings.pt;
    const pt = p
      ? await PtListener.open({
        ...common,
        configKey: "transport.pt",
        binary: p.binary,
        transport: p.transport,
        bind: { hostname: p.hostname, port: p.port },
        stateDir: p.stateDir,
        serverOptions: p.options,
        tls,
        observer: hooks.pt,
      })
      : null;
    if (pt) all.push(pt);
    return { all, main, h2c, shadowsocks, pt };
  } catch (error) {
    for (const listener of all) listener.close();
    throw error;
  }
}
