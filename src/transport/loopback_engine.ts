/**
 * The HTTP engine behind a listener that accepts its own sockets: Deno's HTTP
 * server (`Deno.serve`, HTTP/1.1 and HTTP/2, TLS with ALPN or plaintext) on a
 * private loopback port, fed by a byte pump from each accepted connection.
 *
 * Why not `Deno.serve` on the public port: it accepts on its own and gives no
 * hook before the first request — no way to close a silent socket, cap
 * connections per client, or survive an accept error (EMFILE ended the
 * process). Why not a Deno per-connection server on the accepted socket:
 * Deno 2.9's internal `serveHttpOnConnection` ends a WebSocket as soon as its
 * upgrade completes, and a `Deno.TlsConn` closed during its TLS handshake
 * keeps its socket open. So the listener owns the raw socket (closing it
 * always works) and this engine copies its bytes to the loopback server, which
 * terminates TLS. The loopback peer port names the connection: requests are
 * handed to the app with the real client's address, and the first request of
 * each connection is reported (first-request timeout).
 *
 * Cost: three descriptors per connection (client socket and both loopback
 * ends) and one copy each way (docs/PERFORMANCE.md).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { Pump } from "./byte_pump.ts";
import type {
  AcceptedStream,
  ByteConn,
  ByteStream,
  RequestHandler,
  ServedConnection,
  ServedEvents,
} from "./listener.ts";

/** Options of {@link LoopbackEngine}. */
export interface LoopbackEngineOptions {
  /** TLS terminated by the engine (PEM); absent → plaintext HTTP/1.1 and h2c. */
  tls?: { cert: string; key: string };
  log: Logger;
}

/** Wait before restarting the loopback server after it failed (descriptors exhausted). */
const RESTART_DELAY_MS = 100;

interface Route {
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  markFirst(): void;
}

/** The engine's bookkeeping a {@link Piped} connection enters and leaves. */
interface Registry {
  /** Open connections by the port of their loopback dial. */
  readonly routes: Map<number, Piped>;
  /** Open connections not dialled yet (a connection is in one of the two: one entry each). */
  readonly served: Set<Piped>;
  readonly log: Logger;
}

const ignore = () => {};
const RESOLVED: Promise<void> = Promise.resolve();

function isByteConn(stream: Deno.Conn | ByteConn | ByteStream): stream is Deno.Conn | ByteConn {
  return "read" in stream;
}

function closeQuietly(resource: { close(): void } | null | undefined): void {
  try {
    resource?.close();
  } catch { /* closed already */ }
}

/** The promises of a {@link ServedConnection}, made only for a caller that asks for them (a tunnel). */
interface Waiters {
  first: Promise<void> | null;
  finished: Promise<void> | null;
  markFirst: (() => void) | null;
  finish: (() => void) | null;
}

/**
 * One accepted connection pumped to the loopback server: its state in one
 * object (it is the route, the served entry and the abort listener), no
 * per-connection `async` function or closures; its {@link close} is a bound
 * function (no closure context), the promises of {@link ServedConnection}
 * live in a {@link Waiters} made when first asked for.
 */
class Piped implements Route, ServedConnection, EventListenerObject {
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  readonly #source: Deno.Conn | ByteConn | ByteStream;
  readonly #signal: AbortSignal | undefined;
  readonly #registry: Registry;
  readonly #events: ServedEvents | undefined;
  #waiters: Waiters | null = null;
  #firstSeen = false;
  #near: Deno.TcpConn | null = null;
  #port = -1;
  #ended = false;
  /** Ends both sides (idempotent); a field so it can be handed on as it is. */
  readonly close: () => void = this.#close.bind(this);

  constructor(accepted: AcceptedStream, registry: Registry) {
    this.remoteAddr = accepted.remoteAddr;
    this.#source = accepted.stream;
    this.#signal = accepted.signal;
    this.#registry = registry;
    this.#events = accepted.events;
  }

  get #w(): Waiters {
    return this.#waiters ??= { first: null, finished: null, markFirst: null, finish: null };
  }

  get firstRequest(): Promise<void> {
    const w = this.#w;
    return w.first ??= this.#firstSeen ? RESOLVED : new Promise<void>((r) => (w.markFirst = r));
  }

  get finished(): Promise<void> {
    const w = this.#w;
    return w.finished ??= this.#ended ? RESOLVED : new Promise<void>((r) => (w.finish = r));
  }

  start(server: Deno.HttpServer<Deno.NetAddr> | null): void {
    if (!server || this.#signal?.aborted) return this.close();
    this.#signal?.addEventListener("abort", this);
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }).then(
      (near) => this.#dialed(near),
      (error) => {
        // The loopback dial failed (descriptors exhausted): the connection is dropped.
        if (!this.#ended) {
          this.#registry.log.warn("connection dropped: loopback dial failed", {
            error: String(error),
          });
        }
        this.close();
      },
    );
  }

  #dialed(near: Deno.TcpConn): void {
    this.#near = near;
    if (this.#ended) return closeQuietly(near);
    const source = this.#source;
    try {
      this.#port = near.localAddr.port;
      // Both hops carry small interactive writes (one WebSocket message per
      // frame): with Nagle's algorithm on, a write waits for the peer's
      // delayed ACK (up to 40 ms on Linux) and the session stalls.
      near.setNoDelay(true);
      if (isByteConn(source) && "setNoDelay" in source) {
        (source as Deno.TcpConn).setNoDelay(true);
      }
    } catch {
      return this.close(); // the socket is gone already
    }
    this.#registry.routes.set(this.#port, this);
    this.#registry.served.delete(this);
    // Either direction ending or failing (a reset) ends the connection: nothing to report.
    if (isByteConn(source)) {
      new Pump(source, near, this.close).start();
      new Pump(near, source, this.close).start();
    } else {
      source.readable.pipeTo(near.writable).then(this.close, this.close);
      near.readable.pipeTo(source.writable).then(this.close, this.close);
    }
  }

  /** The first HTTP request arrived (or the connection ended first). */
  markFirst(): void {
    if (this.#firstSeen) return;
    this.#firstSeen = true;
    const w = this.#waiters;
    const mark = w?.markFirst;
    if (w) w.markFirst = null;
    mark?.();
    this.#events?.firstRequest();
  }

  /** The abort signal fired: end now. */
  handleEvent(): void {
    this.close();
  }

  #close(): void {
    if (this.#ended) return;
    this.#ended = true;
    closeQuietly(this.#near);
    closeQuietly(this.#source);
    if (this.#port >= 0) this.#registry.routes.delete(this.#port);
    this.#registry.served.delete(this);
    this.#signal?.removeEventListener("abort", this);
    this.markFirst();
    const w = this.#waiters;
    const finish = w?.finish;
    if (w) w.finish = null;
    finish?.();
    this.#events?.ended();
  }
}

/** The engine: see the module doc. */
export class LoopbackEngine {
  readonly #handler: RequestHandler;
  readonly #options: LoopbackEngineOptions;
  /** Open connections by the port of their loopback dial. */
  readonly #routes = new Map<number, Piped>();
  /** Open connections not dialled yet (then only in {@link #routes}: one entry per connection). */
  readonly #served = new Set<Piped>();
  readonly #registry: Registry;
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #closed = false;

  constructor(handler: RequestHandler, options: LoopbackEngineOptions) {
    this.#handler = handler;
    this.#options = options;
    this.#registry = { routes: this.#routes, served: this.#served, log: options.log };
    this.#server = this.#startServer();
  }

  /** Connections being served now. */
  get open(): number {
    return this.#served.size + this.#routes.size;
  }

  #startServer(): Deno.HttpServer<Deno.NetAddr> {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      ...(this.#options.tls ?? {}),
      onListen: () => {},
      onError: (error) => {
        this.#options.log.error("request failed", { error: String(error) });
        return new Response("internal server error", { status: 500 });
      },
    }, (request, info) => {
      const route = this.#routes.get(info.remoteAddr.port);
      // Only connections this engine dialed are served; anything else on loopback is not ours.
      if (!route) return new Response(null, { status: 421 });
      route.markFirst();
      // `completed` is read lazily: Deno creates it (and its possible rejection) on first use.
      return this.#handler(request, {
        remoteAddr: route.remoteAddr,
        get completed() {
          return info.completed;
        },
      });
    }) as Deno.HttpServer<Deno.NetAddr>;
    // Deno.serve's loop ends on an accept error (EMFILE): without this the
    // rejection ended the process. Start a new loopback server instead.
    server.finished.catch((error) => {
      if (this.#closed || this.#server !== server) return;
      this.#options.log.error("loopback HTTP server failed; restarting", { error: String(error) });
      this.#server = null;
      const retry = () => {
        if (this.#closed) return;
        try {
          this.#server = this.#startServer();
        } catch (e) {
          this.#options.log.error("loopback HTTP server restart failed", { error: String(e) });
          setTimeout(retry, RESTART_DELAY_MS);
        }
      };
      setTimeout(retry, RESTART_DELAY_MS);
    });
    return server;
  }

  /** Serves an accepted connection until either side ends it. */
  serve(accepted: AcceptedStream): ServedConnection {
    const piped = new Piped(accepted, this.#registry);
    this.#served.add(piped);
    piped.start(this.#server);
    return piped;
  }

  /** Graceful end: requests in flight finish (Deno.serve's shutdown), then the rest is cut. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    // A server that already failed (and was being restarted) has nothing left to drain.
    await this.#server?.shutdown().catch(ignore);
    this.close();
  }

  /** Ends every connection and the loopback server now. */
  close(): void {
    this.#closed = true;
    for (const s of [...this.#served, ...this.#routes.values()]) s.close();
    const server = this.#server;
    this.#server = null;
    // Its connections are all cut, so this resolves at once; a failed server has nothing to end.
    server?.shutdown().catch(ignore);
  }
}
