/**
 * The accept side every TCP-based listener shares, guarding descriptors
 * before any byte is read:
 *
 * - each accepted socket first passes the connection caps (in all and per
 *   client) and is closed at once when over;
 * - it must reach its first HTTP request within the first-request timeout
 *   (whatever the listener does first: a TLS handshake, a tunnel's own
 *   handshake), or it is closed (silent and half-sent sockets): up to 5% of
 *   the timeout late (at most 250 ms), the sockets' deadlines sharing one
 *   timer ({@link CoarseSchedule}) instead of a timer and a closure each;
 * - an accept error (EMFILE when descriptors run out) pauses accepting with a
 *   growing back-off instead of ending the process, so connections waiting in
 *   the kernel's backlog get their turn once descriptors free up;
 * - so does the engine running short first (its loopback server's accept or
 *   a loopback dial failing: each connection needs two descriptors more than
 *   the public accept): accepting waits while it holds connections for a
 *   dial ({@link LoopbackEngine.whenReady}), rather than accepting sockets
 *   it could not serve.
 *
 * What a listener does with an admitted socket is its {@link AdmittedHandler};
 * the acceptor owns the socket's slot, timer and shutdown.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { ListenError } from "./errors.ts";
import type { ConnectionSink, ServedEvents, SlotTicket } from "./listener.ts";
import { LoopbackEngine } from "./loopback_engine.ts";
import { CoarseSchedule, type DueItem, type SlotKey } from "../session/coarse_schedule.ts";

/** Why the acceptor did not serve a socket. */
export type AcceptDrop = "total" | "per_client" | "timeout" | "accept_error";

/** Options of {@link GuardedAcceptor}. */
export interface GuardedAcceptorOptions {
  /** The config key it comes from, for logs and errors (`server.bind`). */
  configKey: string;
  hostname: string;
  port: number;
  /** PEM certificate and key, terminated by the engine; absent → plaintext. */
  tls?: { cert: string; key: string };
  /** Time from accept to the first HTTP request, ms. */
  firstRequestTimeoutMs: number;
  /** Takes a connection slot for a client address: its ticket, or why not. */
  admit: (remote: Deno.NetAddr) => SlotTicket | "total" | "per_client";
  log: Logger;
  /** Called for every socket not served (metrics). */
  onDrop?: (reason: AcceptDrop) => void;
  /** The engine's loopback dial (tests: one that fails as descriptors run out). */
  dial?: (port: number) => Promise<Deno.TcpConn>;
}

/** One admitted socket, as its listener sees it. */
export interface AdmittedSocket extends ServedEvents {
  readonly conn: Deno.Conn;
  readonly remoteAddr: Deno.NetAddr;
  /** Aborted on the first-request timeout and on close(): end the connection. */
  readonly signal: AbortSignal;
  /**
   * Calls `end` (once) on the first-request timeout and on close(), like
   * {@link signal} but without an AbortController and its listener per
   * connection (held for the connection's life); at once if already aborted.
   */
  onAbort(end: () => void): void;
  /** Call once the first HTTP request arrived: the timeout no longer applies. */
  firstRequest(): void;
  /** The connection is over (its slot is given back); once. */
  ended(): void;
}

/**
 * Serves one admitted socket: either resolves when the connection is over,
 * or returns nothing and calls `socket.ended()` itself (e.g. by handing the
 * socket to the engine as its {@link ServedEvents}: no promise and reaction
 * closures per connection).
 */
export type AdmittedHandler = (
  socket: AdmittedSocket,
  engine: LoopbackEngine,
) => Promise<void> | void;

/** Most time between two accept attempts after errors, ms. */
const MAX_ACCEPT_BACKOFF_MS = 1_000;
/** Refusals of one kind are logged at most once per this many ms (with a count). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Slot width of the first-request deadlines: 5% of the timeout, 1–250 ms. */
export function firstRequestGranularityMs(timeoutMs: number): number {
  return Math.min(250, Math.max(1, Math.floor(timeoutMs / 20)));
}

/** A bound TCP socket with its guarded accept loop; see the module doc. */
export class GuardedAcceptor {
  /** `host:port` as bound (for names and logs). */
  readonly address: string;
  readonly engine: LoopbackEngine;
  readonly #options: GuardedAcceptorOptions;
  readonly #listener: Deno.Listener;
  readonly #open = new Set<Admitted>();
  readonly #dropLog = new Map<string, { count: number; lastAt: number }>();
  /**
   * The admitted sockets' first-request deadlines. Its timer is unref'd and
   * stays armed when the last socket leaves its slot (the listener keeps
   * the process alive): sockets one after another would otherwise arm and
   * clear a timer each, as before.
   */
  readonly #deadlines: Deadlines;
  #sink: ConnectionSink | null = null;
  #closed = false;
  #loop: Promise<void> | null = null;

  /** Binds at once (so a busy address fails here, naming the config key). */
  constructor(options: GuardedAcceptorOptions) {
    this.#options = options;
    this.#deadlines = {
      schedule: new CoarseSchedule(firstRequestGranularityMs(options.firstRequestTimeoutMs)),
      expired: () => {},
    };
    const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
    this.address = `${host}:${options.port}`;
    try {
      this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    } catch (error) {
      throw new ListenError(options.configKey, this.address, error);
    }
    try {
      // Requests reach the sink given to start(); none arrive before it.
      this.engine = new LoopbackEngine((request, info) => this.#sink!.handle(request, info), {
        tls: options.tls,
        log: options.log,
        dial: options.dial,
      });
    } catch (error) {
      closeQuietly(this.#listener);
      throw new ListenError(`loopback for ${options.configKey}`, "127.0.0.1", error);
    }
  }

  /** The bound address (resolved port when 0 was asked). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Starts accepting; each admitted socket goes to `handler`. */
  start(sink: ConnectionSink, name: string, handler: AdmittedHandler): void {
    if (this.#loop) return;
    this.#sink = sink;
    this.#deadlines.expired = (socket) => {
      this.#dropped(name, "timeout", {});
      socket.abort();
    };
    this.#loop = this.#acceptLoop(name, handler);
  }

  async #acceptLoop(name: string, handler: AdmittedHandler): Promise<void> {
    let backoff = 0;
    while (!this.#closed) {
      // The engine short of descriptors: leave new clients in the kernel's backlog meanwhile.
      const ready = this.engine.whenReady();
      if (ready) {
        await ready;
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#closed) return;
        backoff = Math.min(Math.max(backoff * 2, 10), MAX_ACCEPT_BACKOFF_MS);
        this.#dropped(name, "accept_error", { error: String(error), retry_ms: backoff });
        await sleep(backoff);
        continue;
      }
      this.#admit(name, conn, handler);
    }
  }

  #admit(name: string, conn: Deno.Conn, handler: AdmittedHandler): void {
    const remoteAddr = conn.remoteAddr as Deno.NetAddr;
    const ticket = this.#options.admit(remoteAddr);
    if (typeof ticket === "string") {
      closeQuietly(conn);
      this.#dropped(name, ticket, {});
      return;
    }
    const socket = new Admitted(conn, remoteAddr, ticket, this.#open, this.#deadlines);
    this.#open.add(socket);
    socket.startTimer(this.#options.firstRequestTimeoutMs);
    handler(socket, this.engine)?.then(() => socket.ended(), (error) => {
      this.#options.log.warn("connection failed", { listener: name, error: String(error) });
      closeQuietly(conn);
      socket.ended();
    });
  }

  /** Logs a dropped socket, at most once per interval and kind (with how many since). */
  #dropped(listener: string, reason: AcceptDrop, extra: Record<string, unknown>): void {
    this.#options.onDrop?.(reason);
    const now = Date.now();
    const seen = this.#dropLog.get(reason) ?? { count: 0, lastAt: -Infinity };
    seen.count++;
    this.#dropLog.set(reason, seen);
    if (now - seen.lastAt < REFUSAL_LOG_INTERVAL_MS) return;
    const count = seen.count;
    seen.count = 0;
    seen.lastAt = now;
    const fields = { listener, count, ...extra };
    switch (reason) {
      case "total":
        this.#options.log.warn("connection refused: server.max_connections reached", fields);
        break;
      case "per_client":
        this.#options.log.warn("connection refused: server.max_connections_per_ip reached", fields);
        break;
      case "timeout":
        this.#options.log.info(
          "connection closed: no request within server.first_request_timeout_ms",
          fields,
        );
        break;
      case "accept_error":
        this.#options.log.error("accept failed; pausing (descriptors exhausted?)", fields);
        break;
    }
  }

  /** Stops accepting; HTTP requests in flight finish, then the connections are closed. */
  async shutdown(): Promise<void> {
    this.#stopAccepting();
    await this.engine.shutdown();
    // Sockets the engine never saw (a tunnel still in its own handshake).
    for (const socket of this.#open) socket.abort();
    this.#deadlines.schedule.stop();
  }

  /** Ends every connection now (after the grace period). */
  close(): void {
    this.#stopAccepting();
    for (const socket of this.#open) socket.abort();
    this.engine.close();
    this.#deadlines.schedule.stop();
  }

  #stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#listener);
  }
}

/** The first-request deadlines of an acceptor's sockets, shared by them (one field each). */
interface Deadlines {
  readonly schedule: CoarseSchedule;
  /** Closes a socket whose first request did not come in time (one closure for all). */
  expired: (socket: Admitted) => void;
}

/**
 * An admitted socket's state. The AbortController behind {@link signal} is
 * made only for a listener that asks for it (a tunnel); the TLS listener
 * registers its one callback with {@link onAbort}. It is its own first-request
 * deadline ({@link DueItem}).
 */
class Admitted implements AdmittedSocket, DueItem {
  readonly conn: Deno.Conn;
  readonly remoteAddr: Deno.NetAddr;
  readonly #open: Set<Admitted>;
  readonly #deadlines: Deadlines;
  #ticket: SlotTicket | null;
  #controller: AbortController | null = null;
  #onAbort: (() => void) | null = null;
  #aborted = false;
  /** The deadline's slot while scheduled, else -1 (a small integer: nothing held). */
  #slot: SlotKey = -1;

  constructor(
    conn: Deno.Conn,
    remoteAddr: Deno.NetAddr,
    ticket: SlotTicket,
    open: Set<Admitted>,
    deadlines: Deadlines,
  ) {
    this.conn = conn;
    this.remoteAddr = remoteAddr;
    this.#ticket = ticket;
    this.#open = open;
    this.#deadlines = deadlines;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  onAbort(end: () => void): void {
    if (this.#aborted) return end();
    this.#onAbort = end;
  }

  /** Schedules the first-request deadline `ms` from now. */
  startTimer(ms: number): void {
    this.#slot = this.#deadlines.schedule.add(this, ms);
  }

  /** The first-request deadline passed (CoarseSchedule). */
  due(): void {
    this.#slot = -1;
    this.#deadlines.expired(this);
  }

  /** Stops the first-request deadline. */
  firstRequest(): void {
    if (this.#slot < 0) return;
    this.#deadlines.schedule.remove(this, this.#slot);
    this.#slot = -1;
  }

  /** Gives the slot back and leaves the open set (once). */
  ended(): void {
    this.firstRequest();
    this.#open.delete(this);
    const ticket = this.#ticket;
    this.#ticket = null;
    ticket?.release();
  }

  /** Ends the connection: the signal aborts and the callback runs (once). */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.firstRequest();
    this.#controller?.abort();
    const end = this.#onAbort;
    this.#onAbort = null;
    end?.();
  }
}

/** Closes a connection or listener that may already be closed. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch { /* closed already: nothing left to release */ }
}
