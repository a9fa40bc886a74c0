/**
 * The Shadowsocks AEAD listener (SIP004): a second port where clients reach
 * the same server through a Shadowsocks tunnel (ss-local, or any SIP004
 * client). Each accepted socket passes the connection caps, then its first
 * chunk must authenticate under the configured key; the decrypted stream
 * (after the target address, which is ignored: this server is the only
 * destination) goes to a {@link LoopbackEngine}, which terminates the TLS the
 * client speaks inside the tunnel and serves HTTP, with the socket peer as
 * the client address.
 *
 * Probe resistance: a socket whose bytes do not authenticate (wrong key,
 * garbage, a replayed salt, an unknown address type) gets no byte back — its
 * input is read and dropped until the first-request timeout, then the socket
 * is closed — exactly what an idle server looks like.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import {
  type AcceptDrop,
  type AdmittedSocket,
  closeQuietly,
  GuardedAcceptor,
} from "../guarded_accept.ts";
import { CONNECT_MODES, parseSocksAddress } from "../../proto/mod.ts";
import type {
  ByteConn,
  ConnectionSink,
  Listener,
  SlotTicket,
  TransportDescriptor,
} from "../listener.ts";
import type { LoopbackEngine } from "../loopback_engine.ts";
import { serveTunnel, startTunnels } from "../tunnel_serve.ts";
import {
  ChunkOpener,
  ChunkSealer,
  type ShadowsocksKey,
  shadowsocksKey,
  type ShadowsocksMethod,
} from "../../crypto/shadowsocks/mod.ts";
import { SaltFilter } from "./replay.ts";

/** Why a socket was not served. */
export type ShadowsocksDrop = AcceptDrop | "unauthenticated";

/** Options of {@link ShadowsocksListener}. */
export interface ShadowsocksListenerOptions {
  /** The config key it comes from (`transport.shadowsocks.bind`). */
  configKey: string;
  hostname: string;
  port: number;
  method: ShadowsocksMethod;
  /** The shared password; never logged. */
  password: string;
  /** The server's certificate and key: clients speak TLS inside the tunnel. */
  tls: { cert: string; key: string };
  /** Time from accept to the first HTTP request (tunnel and TLS handshakes included), ms. */
  firstRequestTimeoutMs: number;
  /** Takes a connection slot for a client address: its ticket, or why not. */
  admit: (remote: Deno.NetAddr) => SlotTicket | "total" | "per_client";
  log: Logger;
  /** Salts remembered against replays (default 65536). */
  replayCapacity?: number;
  /** Called for every socket not served (metrics, tests). */
  onDrop?: (reason: ShadowsocksDrop) => void;
}

/** Most decrypted bytes before the target address is complete (a domain is ≤ 255). */
const MAX_TARGET_BYTES = 1 + 1 + 255 + 2;
const READ_BUFFER = 32 * 1024;

async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += await conn.write(chunk.subarray(off));
}

function concat(a: Uint8Array, parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, a.length));
  out.set(a);
  let off = a.length;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * An authenticated connection as the engine reads and writes it: reads open
 * the peer's chunks into the caller's buffer, writes seal into one reused
 * wire buffer and go out in one socket write (salt first, then one chunk per
 * 16 KiB); nothing is allocated per read or write but the ciphers' output.
 */
class Tunnel implements ByteConn {
  readonly #conn: Deno.Conn;
  readonly #opener: ChunkOpener;
  readonly #sealer: ChunkSealer;
  /** Opened payloads not yet read, the first possibly in part. */
  #opened: Uint8Array[];
  /** The socket's read buffer (the one the handshake read with). */
  readonly #buf: Uint8Array;

  constructor(
    conn: Deno.Conn,
    buf: Uint8Array,
    opener: ChunkOpener,
    sealer: ChunkSealer,
    first: Uint8Array,
  ) {
    this.#conn = conn;
    this.#buf = buf;
    this.#opener = opener;
    this.#sealer = sealer;
    this.#opened = first.length > 0 ? [first] : [];
  }

  async read(into: Uint8Array): Promise<number | null> {
    while (this.#opened.length === 0) {
      const n = await this.#conn.read(this.#buf).catch(() => null);
      if (n === null) return null;
      try {
        this.#opened = this.#opener.push(this.#buf.subarray(0, n));
      } catch (error) {
        // Tampering mid-stream: end the connection (no byte is sent about it).
        closeQuietly(this.#conn);
        throw error;
      }
    }
    let n = 0;
    while (this.#opened.length > 0 && n < into.length) {
      const head = this.#opened[0];
      const take = Math.min(head.length, into.length - n);
      into.set(head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#opened.shift();
      else this.#opened[0] = head.subarray(take);
    }
    return n;
  }

  async write(chunk: Uint8Array): Promise<number> {
    await writeAll(this.#conn, this.#sealer.sealWire(chunk));
    return chunk.length;
  }

  close(): void {
    closeQuietly(this.#conn);
  }
}

/** The listener: see the module doc. */
export class ShadowsocksListener implements Listener {
  readonly name: string;
  readonly #options: ShadowsocksListenerOptions;
  readonly #key: ShadowsocksKey;
  readonly #salts: SaltFilter;
  readonly #acceptor: GuardedAcceptor;

  /** Binds at once (a busy address fails here, naming the config key). */
  constructor(options: ShadowsocksListenerOptions) {
    this.#options = options;
    this.#key = shadowsocksKey(options.method, options.password);
    this.#salts = new SaltFilter(options.replayCapacity ?? 65_536);
    this.#acceptor = new GuardedAcceptor(options);
    this.name = `shadowsocks ${options.method} ${this.#acceptor.address} (${options.configKey})`;
  }

  get addr(): Deno.NetAddr {
    return this.#acceptor.addr;
  }

  /** An AEAD tunnel (upstream's resistance and cost levels for Shadowsocks); never the key. */
  describe(): TransportDescriptor {
    return {
      kind: "shadowsocks",
      transport: "Shadowsocks",
      resistance: "Enhanced",
      latency: "Medium",
      throughput: "High",
      port: this.addr.port,
      configKey: this.#options.configKey,
      modes: CONNECT_MODES,
    };
  }

  start(sink: ConnectionSink): void {
    startTunnels(this.#acceptor, sink, this.name, (socket, engine) => this.#serve(socket, engine));
  }

  /** Opens the tunnel, then serves HTTP in it until it ends. */
  async #serve(socket: AdmittedSocket, engine: LoopbackEngine): Promise<void> {
    const { conn, remoteAddr } = socket;
    const opener = new ChunkOpener(this.#key);
    const buf = new Uint8Array(READ_BUFFER);
    let plain: Uint8Array = new Uint8Array(0);
    let saltChecked = false;
    let start = -1;
    while (start < 0) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return closeQuietly(conn);
      try {
        plain = concat(plain, opener.push(buf.subarray(0, n)));
        if (!saltChecked && plain.length > 0) {
          saltChecked = true;
          if (!this.#salts.add(opener.salt!)) return await this.#silence(conn, "replayed salt");
        }
        const target = parseSocksAddress(plain);
        if (target) start = target.length;
        else if (plain.length > MAX_TARGET_BYTES) {
          return await this.#silence(conn, "target address too long");
        }
      } catch (error) {
        return await this.#silence(conn, String((error as Error).message));
      }
    }
    const stream = this.#tunnel(conn, buf, opener, plain.subarray(start));
    await serveTunnel(socket, engine, stream, remoteAddr);
  }

  /** Reads and drops the socket's bytes until it ends or the first-request timeout closes it. */
  async #silence(conn: Deno.Conn, why: string): Promise<void> {
    this.#options.onDrop?.("unauthenticated");
    this.#options.log.debug("shadowsocks: not authenticated; staying silent", {
      listener: this.name,
      why,
    });
    const sink = new Uint8Array(READ_BUFFER);
    while ((await conn.read(sink).catch(() => null)) !== null) { /* dropped */ }
    closeQuietly(conn);
  }

  /** The decrypted connection of an authenticated socket. */
  #tunnel(conn: Deno.Conn, buf: Uint8Array, opener: ChunkOpener, first: Uint8Array): ByteConn {
    return new Tunnel(conn, buf, opener, new ChunkSealer(this.#key), first.slice());
  }

  /** Stops accepting; HTTP requests in flight finish, then the connections are closed. */
  shutdown(): Promise<void> {
    return this.#acceptor.shutdown();
  }

  /** Ends every connection now. */
  close(): void {
    this.#acceptor.close();
  }
}
