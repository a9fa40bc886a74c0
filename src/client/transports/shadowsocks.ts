/**
 * The SDK's own Shadowsocks AEAD client (SIP004; no ss-local needed).
 *
 * Deno's HTTP client can only be routed through a proxy it knows (HTTP or
 * SOCKS5), so opening this transport starts an in-process SOCKS5 bridge on
 * 127.0.0.1 (an ephemeral port, random per-route credentials) and points a
 * `Deno.createHttpClient({ proxy: socks5h://… })` at it. Each connection the
 * HTTP client opens becomes one Shadowsocks connection: TCP to the
 * Shadowsocks server, a random salt, then the SOCKS5 target address sealed
 * together with the first bytes the client sends (its TLS ClientHello, so the
 * first chunk does not have the tell-tale size of a lone address), and the
 * stream both ways in sealed chunks. The TLS to the CommuCat server runs
 * inside, end to end: the Shadowsocks server sees only TLS.
 *
 * The framing is the server listener's (src/crypto/shadowsocks/); it
 * interoperates with shadowsocks-libev's `ss-server` and with our own
 * listener (`transport.shadowsocks.*`).
 *
 * @module
 */
import {
  ChunkOpener,
  ChunkSealer,
  SHADOWSOCKS_METHODS,
  ShadowsocksAuthError,
  type ShadowsocksKey,
  shadowsocksKey,
  type ShadowsocksMethod,
} from "../../crypto/shadowsocks/mod.ts";
import type { ClientTransport, TransportContext, TransportRoute } from "../transport.ts";
import { acceptSocks5, ExactReader, SocksReply, socksReply } from "./socks5_server.ts";

/** Where and how to reach a Shadowsocks server. */
export interface ShadowsocksServer {
  /** `host:port` (`[v6]:port` for IPv6). */
  server: string;
  method: ShadowsocksMethod;
  /** The shared password; never logged. */
  password: string;
}

const READ_BUFFER = 64 * 1024;

function hostPort(server: string): { hostname: string; port: number } {
  const url = new URL(`tcp://${server}`);
  const port = Number(url.port);
  if (!url.hostname || !Number.isInteger(port) || port < 1) {
    throw new Error(`server must be host:port, got "${server}"`);
  }
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port };
}

/** Checks a method name (config and profile input). */
export function shadowsocksMethod(value: unknown): ShadowsocksMethod {
  if (!SHADOWSOCKS_METHODS.includes(value as ShadowsocksMethod)) {
    throw new Error(`method must be one of ${SHADOWSOCKS_METHODS.join(", ")}`);
  }
  return value as ShadowsocksMethod;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function joined(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** `parts` copied one after another into `out` (large enough): a view of it. */
function joinedInto(out: Uint8Array, parts: Uint8Array[]): Uint8Array {
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out.subarray(0, off);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** A running SOCKS5 → Shadowsocks bridge. */
export class ShadowsocksBridge {
  readonly #listener: Deno.TcpListener;
  readonly #key: ShadowsocksKey;
  readonly #upstream: { hostname: string; port: number };
  readonly #conns = new Set<Deno.Conn>();
  /** Random per-bridge SOCKS5 credentials (hex, so any SOCKS5 client can send them). */
  readonly username: string;
  readonly password: string;
  #lastFailure: unknown = undefined;
  #closed = false;

  constructor(server: ShadowsocksServer) {
    this.#key = shadowsocksKey(server.method, server.password);
    this.#upstream = hostPort(server.server);
    const hex = () =>
      Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"))
        .join("");
    this.username = hex();
    this.password = hex();
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accept();
  }

  /** The bridge's SOCKS5 address. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** The last upstream failure (connect error, a reply that did not authenticate), for diagnosis. */
  get lastFailure(): unknown {
    return this.#lastFailure;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#serve(conn).catch(() => {}).finally(() => {
          this.#conns.delete(conn);
          closeQuietly(conn);
        });
      }
    } catch {
      // The listener was closed.
    }
  }

  async #serve(local: Deno.TcpConn): Promise<void> {
    const reader = new ExactReader(local);
    const enc = new TextEncoder();
    const { bytes: address } = await acceptSocks5(local, reader, {
      username: enc.encode(this.username),
      password: enc.encode(this.password),
    });
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect(this.#upstream);
    } catch (error) {
      this.#lastFailure = error;
      await socksReply(
        local,
        error instanceof Deno.errors.ConnectionRefused
          ? SocksReply.connectionRefused
          : SocksReply.hostUnreachable,
      ).catch(() => {});
      return;
    }
    if (this.#closed) return closeQuietly(upstream);
    this.#conns.add(upstream);
    try {
      upstream.setNoDelay(true);
      local.setNoDelay(true);
      await socksReply(local, SocksReply.succeeded);
      await Promise.race([
        this.#seal(local, upstream, address, reader.rest()),
        this.#open(upstream, local),
      ]);
    } finally {
      this.#conns.delete(upstream);
      closeQuietly(upstream);
    }
  }

  /** Client → Shadowsocks server: the address rides in the first chunk with the first data. */
  async #seal(local: Deno.Conn, upstream: Deno.Conn, address: Uint8Array, early: Uint8Array) {
    const sealer = new ChunkSealer(this.#key);
    const buf = new Uint8Array(READ_BUFFER);
    let first: Uint8Array | null = early.length > 0 ? early : null;
    if (!first) {
      const n = await local.read(buf).catch(() => null);
      if (n === null) return;
      first = buf.subarray(0, n);
    }
    // sealWire puts the salt before the first chunk; its buffer is reused, so each write is awaited.
    await writeAll(upstream, sealer.sealWire(joined([address, first])));
    for (;;) {
      const n = await local.read(buf).catch(() => null);
      if (n === null) return;
      await writeAll(upstream, sealer.sealWire(buf.subarray(0, n)));
    }
  }

  /** Shadowsocks server → client. */
  async #open(upstream: Deno.Conn, local: Deno.Conn) {
    const opener = new ChunkOpener(this.#key);
    const buf = new Uint8Array(READ_BUFFER);
    // One push opens fewer plaintext bytes than it was fed plus the unit it
    // had buffered (< 16.4 KiB): they fit.
    const out = new Uint8Array(2 * READ_BUFFER);
    for (;;) {
      const n = await upstream.read(buf).catch((error) => {
        this.#lastFailure = error;
        return null;
      });
      if (n === null) return;
      let payloads: Uint8Array[];
      try {
        payloads = opener.push(buf.subarray(0, n));
      } catch (error) {
        if (!(error instanceof ShadowsocksAuthError)) throw error;
        this.#lastFailure = new Error(
          "the Shadowsocks server's reply does not authenticate (wrong password or method?)",
        );
        return;
      }
      if (payloads.length === 1) await writeAll(local, payloads[0]);
      else if (payloads.length > 1) await writeAll(local, joinedInto(out, payloads));
    }
  }

  /** Stops the bridge and ends every connection through it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const conn of this.#conns) closeQuietly(conn);
    this.#conns.clear();
  }
}

/** Reaches the server through a Shadowsocks server (see the module doc). */
export class ShadowsocksTransport implements ClientTransport {
  readonly kind = "shadowsocks";
  readonly label: string;
  readonly #server: ShadowsocksServer;

  constructor(server: ShadowsocksServer) {
    shadowsocksMethod(server.method);
    hostPort(server.server);
    this.#server = server;
    this.label = `shadowsocks ${server.server} (${server.method})`;
  }

  open(context: TransportContext): Promise<TransportRoute> {
    const bridge = new ShadowsocksBridge(this.#server);
    let httpClient: Deno.HttpClient;
    try {
      httpClient = Deno.createHttpClient({
        caCerts: context.caCerts,
        // socks5h: the server's name is resolved at the far end, not by a local (watched) resolver.
        proxy: {
          url: `socks5h://127.0.0.1:${bridge.port}`,
          basicAuth: { username: bridge.username, password: bridge.password },
        },
      });
    } catch (error) {
      bridge.close();
      throw error;
    }
    let closed = false;
    return Promise.resolve({
      url: context.url,
      httpClient,
      failure: () => bridge.lastFailure,
      close() {
        if (closed) return;
        closed = true;
        httpClient.close();
        bridge.close();
      },
    });
  }
}
