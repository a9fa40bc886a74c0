/**
 * The direct accept mode (`server.accept = "direct"`): `Deno.serve` binds the
 * public port itself and terminates TLS (ALPN `h2`, `http/1.1`), with no
 * loopback pump in between (see ./guarded_accept.ts for what the pump buys).
 * It is the fastest way in and the cheapest per idle connection, but
 * `Deno.serve` accepts on its own, so the guards that need the socket are
 * gone:
 *
 * - no first-request timeout: a silent or half-sent socket stays open until
 *   the client or the kernel ends it;
 * - the connection caps count live requests and WebSocket sessions, not
 *   sockets, and apply after the TLS handshake (an over-cap request gets a
 *   problem+json 503 or 429);
 * - when descriptors run out, `Deno.serve` closes the port (its accept loop
 *   ends); this listener binds it again after a back-off, and clients are
 *   refused meanwhile (see docs/OPERATIONS.md, "Accept modes").
 *
 * Meant for a deployment behind a load balancer that enforces those, or for
 * maximum throughput. The Shadowsocks and pluggable-transport listeners stay
 * guarded whatever this mode is.
 *
 * @module
 */
import { problem } from "../http/mod.ts";
import type { Logger } from "../log/mod.ts";
import { describeTcp } from "./tls_tcp.ts";
import { ListenError } from "./errors.ts";
import {
  type ConnectionSink,
  HOLD_CONNECTION_SLOT,
  type Listener,
  type SlotHolder,
  type TransportDescriptor,
} from "./listener.ts";

/** Why a request was refused (the caps of the guarded mode, counted per request). */
export type DirectRefusal = "total" | "per_client";

/** Options of {@link DirectListener}. */
export interface DirectListenerOptions {
  /** The config key it comes from, for logs and errors (`server.bind`). */
  configKey: string;
  hostname: string;
  port: number;
  /** PEM certificate and key, terminated by `Deno.serve`; absent → plaintext (HTTP/1.1, h2c). */
  tls?: { cert: string; key: string };
  /** Takes a connection slot for a client address: a release function, or why not. */
  admit: (remote: Deno.NetAddr) => (() => void) | DirectRefusal;
  log: Logger;
  /** Called for every request refused by the caps (metrics). */
  onDrop?: (reason: DirectRefusal) => void;
}

/** Refusals of one kind are logged at most once per this many ms (with a count). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** What a refused client is told to wait before trying again, seconds. */
const RETRY_AFTER_SECONDS = 1;
/** Most time between two attempts to bind the port again after an accept error, ms. */
const MAX_REBIND_BACKOFF_MS = 1_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TLS (or plaintext) listener served by `Deno.serve` directly; see the module doc. */
export class DirectListener implements Listener {
  readonly name: string;
  readonly #options: DirectListenerOptions;
  #server: Deno.HttpServer<Deno.NetAddr>;
  /** The bound port (resolved when 0 was asked), bound again after an accept error. */
  readonly #port: number;
  readonly #refusals = new Map<DirectRefusal, { count: number; lastAt: number }>();
  #sink: ConnectionSink | null = null;
  #stopping: Promise<void> | null = null;

  /** Binds at once (so a busy address fails here, naming the config key). */
  constructor(options: DirectListenerOptions) {
    this.#options = options;
    const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
    const address = `${host}:${options.port}`;
    this.name = `${options.tls ? "tls" : "plaintext"} direct ${address} (${options.configKey})`;
    try {
      this.#server = this.#serve(options.port);
    } catch (error) {
      throw new ListenError(options.configKey, address, error);
    }
    this.#port = this.#server.addr.port;
  }

  /** Binds `port` and serves it; watches for the accept loop dying. */
  #serve(port: number): Deno.HttpServer<Deno.NetAddr> {
    const options = this.#options;
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      onListen: () => {},
      // The app answers its own errors; this is the last resort.
      onError: (error) => {
        options.log.error("request failed", { error: String(error) });
        return problem(500, "internal server error");
      },
    }, (request, info) => this.#handle(request, info)) as Deno.HttpServer<Deno.NetAddr>;
    server.finished.catch((error) => this.#rebind(error));
    return server;
  }

  /**
   * Deno.serve ends its whole accept loop on an accept error (EMFILE when
   * descriptors run out; Deno 2.9.6) and closes the port; its connections
   * stay served. The port is bound again after a growing back-off, so the
   * listener pauses instead of dying. Meanwhile new clients are refused.
   */
  async #rebind(error: unknown): Promise<void> {
    if (this.#stopping) return;
    this.#options.log.error("accept failed; port closed, binding again (descriptors exhausted?)", {
      listener: this.name,
      error: String(error),
    });
    let backoff = 10;
    while (!this.#stopping) {
      await sleep(backoff);
      if (this.#stopping) return;
      try {
        this.#server = this.#serve(this.#port);
        this.#options.log.info("listening again", { listener: this.name });
        return;
      } catch (again) {
        backoff = Math.min(backoff * 2, MAX_REBIND_BACKOFF_MS);
        this.#options.log.warn("binding again failed", {
          listener: this.name,
          error: String(again),
          retry_ms: backoff,
        });
      }
    }
  }

  /** The bound address (the resolved port when 0 was asked). */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Same offer as the guarded TCP listener: the way in is the same to a client. */
  describe(): TransportDescriptor {
    return describeTcp(this.#options.tls !== undefined, this.addr.port, this.#options.configKey);
  }

  start(sink: ConnectionSink): void {
    this.#sink = sink;
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const sink = this.#sink;
    // Bound in the constructor, served from start(): nothing to hand a request to yet.
    if (!sink) return problem(503, "server is starting");
    const release = this.#options.admit(info.remoteAddr);
    if (typeof release === "string") return this.#refuse(release);
    // A WebSocket session keeps its slot past the 101 (`completed` resolves at
    // the 101); anything else gives it back once the response is sent.
    let held = false;
    const holder: SlotHolder = (until) => {
      held = true;
      until.then(release, release);
    };
    // Configurable so it can go again: Deno keeps an upgraded WebSocket's
    // request alive (its liveness close listener), and with it this holder.
    Object.defineProperty(request, HOLD_CONNECTION_SLOT, { value: holder, configurable: true });
    let response: Response;
    try {
      response = await sink.handle(request, info);
    } catch (error) {
      release();
      throw error;
    } finally {
      delete (request as Request & { [HOLD_CONNECTION_SLOT]?: SlotHolder })[HOLD_CONNECTION_SLOT];
    }
    if (!held) info.completed.then(release, release);
    return response;
  }

  #refuse(reason: DirectRefusal): Response {
    this.#options.onDrop?.(reason);
    const seen = this.#refusals.get(reason) ?? { count: 0, lastAt: -Infinity };
    seen.count++;
    this.#refusals.set(reason, seen);
    const now = Date.now();
    if (now - seen.lastAt >= REFUSAL_LOG_INTERVAL_MS) {
      const key = reason === "total" ? "server.max_connections" : "server.max_connections_per_ip";
      this.#options.log.warn(`request refused: ${key} reached`, {
        listener: this.name,
        count: seen.count,
      });
      seen.count = 0;
      seen.lastAt = now;
    }
    const headers = { "retry-after": String(RETRY_AFTER_SECONDS) };
    return reason === "total"
      ? problem(503, "server.max_connections reached", { headers })
      : problem(429, "server.max_connections_per_ip reached", { headers });
  }

  /** Stops accepting; requests in flight finish (Deno.serve's graceful shutdown). */
  shutdown(): Promise<void> {
    return this.#stopping ??= this.#server.shutdown().catch(() => {
      // An accept loop that died on an error has nothing left to stop.
    });
  }

  /**
   * After the grace period: `Deno.serve` cannot cut its connections, so the
   * shutdown keeps going and the server no longer holds the process open.
   */
  close(): void {
    void this.shutdown();
    this.#server.unref();
  }
}
