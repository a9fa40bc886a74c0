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
import type { AcceptedStream, RequestHandler, ServedConnection } from "./listener.ts";
import { Piped, type Registry } from "./piped.ts";

/** Options of {@link LoopbackEngine}. */
export interface LoopbackEngineOptions {
  /** TLS terminated by the engine (PEM); absent → plaintext HTTP/1.1 and h2c. */
  tls?: { cert: string; key: string };
  log: Logger;
  /** Dials the loopback server's port (tests: a dial that fails as descriptors run out). */
  dial?: (port: number) => Promise<Deno.TcpConn>;
}

/** Wait before restarting the loopback server after it failed (descriptors exhausted). */
const RESTART_DELAY_MS = 100;
/** First wait before the held connections' dials are tried again (doubling, up to the most). */
const HOLD_RETRY_MS = 10;
/** Most time between two tries of the held connections' dials, ms. */
const MAX_HOLD_RETRY_MS = 1_000;

const dialLoopback = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });

const ignore = () => {};

/**
 * The engine: see the module doc.
 *
 * Descriptors running out: the loopback server's accept can fail (its
 * `Deno.serve` then ends and is restarted) and so can a loopback dial, each
 * needing a descriptor the public accept did not. A connection that meets
 * either is *held* (its public socket kept open, its first-request deadline
 * still running) and dialled again with a growing back-off instead of being
 * dropped; while any is held, or the server is down, {@link whenReady} tells
 * the acceptor to stop accepting, so clients wait in the kernel's backlog
 * rather than being accepted only to be cut.
 */
export class LoopbackEngine {
  readonly #handler: RequestHandler;
  readonly #options: LoopbackEngineOptions;
  readonly #dial: (port: number) => Promise<Deno.TcpConn>;
  /** Open connections by the port of their loopback dial. */
  readonly #routes = new Map<number, Piped>();
  /** Open connections not dialled yet (then only in {@link #routes}: one entry per connection). */
  readonly #served = new Set<Piped>();
  readonly #registry: Registry;
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #closed = false;
  /** Connections waiting for a dial (the server was down or their dial failed), in order. */
  #held: Piped[] = [];
  /** Held connections whose dial is being tried again now. */
  #retrying = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #retryMs = HOLD_RETRY_MS;
  /** Resolved when the engine is no longer starved ({@link whenReady}). */
  #ready: PromiseWithResolvers<void> | null = null;

  constructor(handler: RequestHandler, options: LoopbackEngineOptions) {
    this.#handler = handler;
    this.#options = options;
    this.#dial = options.dial ?? dialLoopback;
    this.#registry = { routes: this.#routes, served: this.#served };
    this.#server = this.#startServer();
  }

  /** Connections being served now. */
  get open(): number {
    return this.#served.size + this.#routes.size;
  }

  /** Connections held for a dial now (descriptors exhausted). */
  get held(): number {
    return this.#held.length + this.#retrying;
  }

  /**
   * Null when a new connection can be served at once; else (the loopback
   * server down, connections held for a dial) a promise resolved when it can
   * again or the engine ends: the acceptor awaits it before its next accept.
   */
  whenReady(): Promise<void> | null {
    if (!this.#starved || this.#closed) return null;
    return (this.#ready ??= Promise.withResolvers<void>()).promise;
  }

  get #starved(): boolean {
    return this.#server === null || this.#held.length > 0 || this.#retrying > 0;
  }

  /** Resolves {@link whenReady}'s promise once nothing is held and the server is up (or ended). */
  #settle(): void {
    if (this.#starved && !this.#closed) return;
    this.#retryMs = HOLD_RETRY_MS;
    const ready = this.#ready;
    this.#ready = null;
    ready?.resolve();
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
          this.#settle();
        } catch (e) {
          this.#options.log.error("loopback HTTP server restart failed", { error: String(e) });
          setTimeout(retry, RESTART_DELAY_MS);
        }
      };
      setTimeout(retry, RESTART_DELAY_MS);
    });
    return server;
  }

  /** Serves an accepted connection until either side ends it (held first when starved). */
  serve(accepted: AcceptedStream): ServedConnection {
    const piped = new Piped(accepted, this.#registry);
    this.#served.add(piped);
    if (!piped.begin()) return piped;
    const server = this.#server;
    // In order: while some are held, a new one waits behind them.
    if (server === null || this.#held.length > 0) this.#hold(piped, null);
    else this.#connect(piped, server, false);
    return piped;
  }

  /** Dials the loopback server for `piped`; a failed dial holds it (`retry`: it was held). */
  #connect(piped: Piped, server: Deno.HttpServer<Deno.NetAddr>, retry: boolean): void {
    this.#dial(server.addr.port).then((near) => {
      piped.dialed(near);
      if (!retry) return;
      this.#retrying--;
      this.#settle();
    }, (error) => {
      if (retry) this.#retrying--;
      this.#hold(piped, error);
    });
  }

  /** Holds `piped` until a dial can succeed (`error`: why its dial failed; null: server down). */
  #hold(piped: Piped, error: unknown): void {
    if (piped.ended) return this.#settle();
    if (this.#closed) return piped.close();
    if (this.#held.length === 0 && this.#retrying === 0 && error !== null) {
      // Once per episode: the retries of the same connections say nothing new.
      this.#options.log.warn("loopback dial failed; holding accepted connections", {
        error: String(error),
      });
    }
    this.#held.push(piped);
    if (this.#retryTimer !== null) return;
    this.#retryTimer = setTimeout(this.#retryHeld, this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_HOLD_RETRY_MS);
  }

  /** Dials the held connections again, in order (the server must be up: else later). */
  readonly #retryHeld = (): void => {
    this.#retryTimer = null;
    const held = this.#held;
    this.#held = [];
    const server = this.#server;
    for (const piped of held) {
      if (piped.ended) continue;
      if (server === null || this.#closed) {
        this.#hold(piped, null);
        continue;
      }
      this.#retrying++;
      this.#connect(piped, server, true);
    }
    this.#settle();
  };

  /** Graceful end: requests in flight finish (Deno.serve's shutdown), then the rest is cut. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    this.#settle();
    // A server that already failed (and was being restarted) has nothing left to drain.
    await this.#server?.shutdown().catch(ignore);
    this.close();
  }

  /** Ends every connection and the loopback server now. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    // Held connections are in #served too: they end here.
    this.#held = [];
    for (const s of [...this.#served, ...this.#routes.values()]) s.close();
    this.#settle();
    const server = this.#server;
    this.#server = null;
    // Its connections are all cut, so this resolves at once; a failed server has nothing to end.
    server?.shutdown().catch(ignore);
  }
}
