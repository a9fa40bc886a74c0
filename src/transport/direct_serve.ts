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
 * Shutdown: `Deno.serve`'s own graceful shutdown waits for every response to
 * end and cannot be cut short afterwards (its server handle is gone), so a
 * stream whose client stopped reading kept it open for ever. This listener
 * drains instead: new requests get 503, open WebSockets are closed (1001),
 * and once nothing is in flight — or at the grace end, on close() — it
 * aborts the server (`Deno.serve`'s `signal`), which closes the port and cuts
 * every connection left.
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
  type SlotEnd,
  type SlotHolder,
  type SlotTicket,
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
  /**
   * Takes a connection slot for a client address: a ticket to release it
   * with (idempotent: e.g. a `ConnectionCaps.admit` ticket), or why not.
   */
  admit: (remote: Deno.NetAddr) => SlotTicket | DirectRefusal;
  log: Logger;
  /** Called for every request refused by the caps, and for each accept error (metrics). */
  onDrop?: (reason: DirectRefusal | "accept_error") => void;
}

/** Refusals of one kind are logged at most once per this many ms (with a count). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** What a refused client is told to wait before trying again, seconds. */
const RETRY_AFTER_SECONDS = 1;
/** Most time between two attempts to bind the port again after an accept error, ms. */
const MAX_REBIND_BACKOFF_MS = 1_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a held slot tells when it is given back (the listener, once per listener). */
interface SlotOwner {
  slotDone(slot: HeldSlot): void;
}

/**
 * A request's connection slot while it is held: its ticket and, for a
 * session, its WebSocket. It is its session's {@link SlotEnd} itself: the
 * record and a bound callback with its arguments were held per idle session.
 */
class HeldSlot implements SlotEnd {
  readonly #owner: SlotOwner;
  readonly ticket: SlotTicket;
  socket: WebSocket | null = null;

  constructor(owner: SlotOwner, ticket: SlotTicket) {
    this.#owner = owner;
    this.ticket = ticket;
  }

  connectionDone(): void {
    this.#owner.slotDone(this);
  }
}

/** One `Deno.serve` instance (there is a new one after each accept error). */
interface Served {
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** Its `signal`: aborting it closes the port and cuts every connection at once. */
  readonly abort: AbortController;
  /** False once it finished: aborting a finished server throws (its handle is closed). */
  live: boolean;
}

/** A TLS (or plaintext) listener served by `Deno.serve` directly; see the module doc. */
export class DirectListener implements Listener {
  readonly name: string;
  readonly #options: DirectListenerOptions;
  #served: Served;
  /** The bound port (resolved when 0 was asked), bound again after an accept error. */
  readonly #port: number;
  readonly #refusals = new Map<DirectRefusal, { count: number; lastAt: number }>();
  #sink: ConnectionSink | null = null;
  /** Requests whose response is not yet sent and WebSocket sessions still open. */
  #inFlight = 0;
  /** The open WebSocket sessions, closed (1001) when the shutdown begins. */
  readonly #sockets = new Set<WebSocket>();
  /** Resolves the drain once {@link #inFlight} is back to 0. */
  #drained: (() => void) | null = null;
  #stopping: Promise<void> | null = null;
  /** Told by every slot of this listener when it is given back. */
  readonly #slots: SlotOwner = { slotDone: (slot) => this.#slotDone(slot) };

  /** Binds at once (so a busy address fails here, naming the config key). */
  constructor(options: DirectListenerOptions) {
    this.#options = options;
    const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
    const address = `${host}:${options.port}`;
    this.name = `${options.tls ? "tls" : "plaintext"} direct ${address} (${options.configKey})`;
    try {
      this.#served = this.#serve(options.port);
    } catch (error) {
      throw new ListenError(options.configKey, address, error);
    }
    this.#port = this.#served.server.addr.port;
  }

  /** Binds `port` and serves it; watches for the accept loop dying. */
  #serve(port: number): Served {
    const options = this.#options;
    const abort = new AbortController();
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      signal: abort.signal,
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      onListen: () => {},
      // The app answers its own errors; this is the last resort.
      onError: (error) => {
        options.log.error("request failed", { error: String(error) });
        return problem(500, "internal server error");
      },
    }, (request, info) => this.#handle(request, info)) as Deno.HttpServer<Deno.NetAddr>;
    const served: Served = { server, abort, live: true };
    server.finished.then(() => {
      served.live = false;
    }, (error) => {
      served.live = false;
      return this.#rebind(error);
    });
    return served;
  }

  /**
   * Deno.serve ends its whole accept loop on an accept error (EMFILE when
   * descriptors run out; Deno 2.9.6) and closes the port; its connections
   * stay served. The port is bound again after a growing back-off, so the
   * listener pauses instead of dying. Meanwhile new clients are refused.
   */
  async #rebind(error: unknown): Promise<void> {
    if (this.#stopping) return;
    this.#options.onDrop?.("accept_error");
    this.#options.log.error("accept failed; port closed, binding again (descriptors exhausted?)", {
      listener: this.name,
      error: String(error),
    });
    let backoff = 10;
    while (!this.#stopping) {
      await sleep(backoff);
      if (this.#stopping) return;
      try {
        this.#served = this.#serve(this.#port);
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
    return this.#served.server.addr;
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
    if (this.#stopping) {
      return problem(503, "server is shutting down", {
        headers: { "retry-after": String(RETRY_AFTER_SECONDS) },
      });
    }
    const ticket = this.#options.admit(info.remoteAddr);
    if (typeof ticket === "string") return this.#refuse(ticket);
    this.#inFlight++;
    // What an idle WebSocket session holds of its slot: this record and its
    // ticket (closures with their contexts held the request handler's whole
    // scope, ~0.2 KiB per idle connection).
    const slot = new HeldSlot(this.#slots, ticket);
    // A WebSocket session keeps its slot past the 101 (`completed` resolves at
    // the 101); anything else gives it back once the response is sent.
    let held = false;
    const holder: SlotHolder = (until, socket) => {
      held = true;
      if (socket) {
        slot.socket = socket;
        this.#sockets.add(socket);
      }
      if (typeof until === "function") until(slot);
      else until.then(() => slot.connectionDone(), () => slot.connectionDone());
    };
    // Writable so it can be dropped again: Deno keeps an upgraded WebSocket's
    // request alive (its liveness close listener), and with it this holder.
    // Overwritten, not deleted: a deleted property turns the request into a
    // dictionary-mode object (~0.45 KiB of properties per idle WebSocket).
    Object.defineProperty(request, HOLD_CONNECTION_SLOT, { value: holder, writable: true });
    let response: Response;
    try {
      response = await sink.handle(request, info);
    } catch (error) {
      slot.connectionDone();
      throw error;
    } finally {
      (request as Request & { [HOLD_CONNECTION_SLOT]?: SlotHolder })[HOLD_CONNECTION_SLOT] =
        undefined;
    }
    if (!held) {
      const done = () => slot.connectionDone();
      info.completed.then(done, done);
    }
    return response;
  }

  /** A request's slot is given back (once per request): its WebSocket leaves the open set. */
  #slotDone(slot: HeldSlot): void {
    if (slot.socket) this.#sockets.delete(slot.socket);
    slot.socket = null;
    slot.ticket.release();
    if (--this.#inFlight === 0) this.#drained?.();
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

  /**
   * Drains: new requests get 503, WebSocket sessions are closed (1001), and
   * once the requests in flight are answered the port closes and idle
   * connections are cut. Resolves then; close() cuts what is left.
   */
  shutdown(): Promise<void> {
    return this.#stopping ??= (async () => {
      for (const socket of this.#sockets) socket.close(1001, "server is shutting down");
      if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#drained = resolve);
      this.#cut();
    })();
  }

  /** Ends every connection now (after the grace period), the port included. */
  close(): void {
    void this.shutdown();
    this.#cut();
  }

  #cut(): void {
    const served = this.#served;
    // A server that died on an accept error has no handle left (and is not bound again now).
    if (!served.live) return;
    served.live = false;
    served.abort.abort();
  }
}
