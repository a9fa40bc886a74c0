/**
 * The TCP listener, with TLS (`server.bind`) or without (`server.h2c_bind`).
 * Its socket is accepted and guarded by a {@link GuardedAcceptor} (connection
 * caps, first-request timeout, accept errors survived) and handed as it is to
 * the {@link LoopbackEngine}, which terminates TLS (ALPN `h2`, `http/1.1`)
 * and serves HTTP. The listener owns the raw TCP socket, so closing it always
 * works (a TLS socket Deno owns stays open when closed mid-handshake).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { type AcceptDrop, type AdmittedSocket, GuardedAcceptor } from "./guarded_accept.ts";
import { CONNECT_MODES } from "../proto/mod.ts";
import type { ConnectionSink, Listener, SlotTicket, TransportDescriptor } from "./listener.ts";
import type { LoopbackEngine } from "./loopback_engine.ts";

/** Why a socket was not served. */
export type ConnectionDrop = AcceptDrop;

/** Options of {@link TcpListener}. */
export interface TcpListenerOptions {
  /** The config key it comes from, for logs and errors (`server.bind`). */
  configKey: string;
  hostname: string;
  port: number;
  /** PEM certificate and key, terminated by the engine; absent → plaintext (HTTP/1.1, h2c). */
  tls?: { cert: string; key: string };
  /** Time from accept to the first HTTP request, TLS handshake included, ms. */
  firstRequestTimeoutMs: number;
  /** Takes a connection slot for a client address: its ticket, or why not. */
  admit: (remote: Deno.NetAddr) => SlotTicket | "total" | "per_client";
  log: Logger;
  /** Called for every socket not served (metrics). */
  onDrop?: (reason: ConnectionDrop) => void;
}

/** A TCP (optionally TLS) listener; see the module doc. */
export class TcpListener implements Listener {
  readonly name: string;
  readonly #acceptor: GuardedAcceptor;
  readonly #options: TcpListenerOptions;

  /** Binds at once (so a busy address fails here, naming the config key). */
  constructor(options: TcpListenerOptions) {
    this.#options = options;
    this.#acceptor = new GuardedAcceptor(options);
    this.name = `${
      options.tls ? "tls" : "plaintext"
    } ${this.#acceptor.address} (${options.configKey})`;
  }

  get addr(): Deno.NetAddr {
    return this.#acceptor.addr;
  }

  describe(): TransportDescriptor {
    return describeTcp(this.#options.tls !== undefined, this.addr.port, this.#options.configKey);
  }

  start(sink: ConnectionSink): void {
    this.#acceptor.start(sink, this.name, serveAsIs);
  }

  /** Stops accepting; HTTP requests in flight finish, then the connections are closed. */
  shutdown(): Promise<void> {
    return this.#acceptor.shutdown();
  }

  /** Ends every connection now (after the grace period). */
  close(): void {
    this.#acceptor.close();
  }
}

/**
 * The socket's bytes go to the engine unchanged, the socket told of the
 * first request and the end directly (its events): no `async` function, promise
 * or reaction is held for the connection's life.
 */
function serveAsIs(socket: AdmittedSocket, engine: LoopbackEngine): void {
  const served = engine.serve({
    stream: socket.conn,
    remoteAddr: socket.remoteAddr,
    events: socket,
  });
  socket.onAbort(served.close);
}

/**
 * What a TCP listener offers, guarded or direct (the way in is the same to a
 * client). TLS: plain HTTPS to a censor; plaintext (h2c): meant for a TLS
 * proxy in front.
 */
export function describeTcp(tls: boolean, port: number, configKey: string): TransportDescriptor {
  return {
    kind: tls ? "tls" : "h2c",
    transport: "WebSocket",
    resistance: "Basic",
    latency: "Low",
    throughput: "High",
    port,
    configKey,
    modes: CONNECT_MODES,
  };
}
