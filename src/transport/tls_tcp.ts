/**
 * The TCP listener, with TLS (`server.bind`) or without (`server.h2c_bind`),
 * guarding descriptors before any byte is read:
 *
 * - each accepted socket first passes the connection caps (in all and per
 *   client) and is closed at once when over;
 * - it must finish the TLS handshake and send its first HTTP request within
 *   the first-request timeout, or it is closed (silent and half-sent sockets);
 * - an accept error (EMFILE when descriptors run out) pauses accepting with a
 *   growing back-off instead of ending the process, so connections waiting in
 *   the kernel's backlog get their turn once descriptors free up.
 *
 * The listener owns the raw TCP socket (so closing it always works) and
 * hands it to a {@link LoopbackEngine}, which terminates TLS (ALPN `h2`,
 * `http/1.1`) and serves HTTP.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { ListenError } from "./errors.ts";
import type { AcceptedStream, ConnectionSink, Listener } from "./listener.ts";
import { LoopbackEngine } from "./loopback_engine.ts";

/** Why a socket was not served. */
export type ConnectionDrop = "total" | "per_client" | "timeout" | "accept_error";

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
  /** Takes a connection slot for a client address: a release function, or why not. */
  admit: (remote: Deno.NetAddr) => (() => void) | "total" | "per_client";
  log: Logger;
  /** Called for every socket not served (metrics). */
  onDrop?: (reason: ConnectionDrop) => void;
}

/** Most time between two accept attempts after errors, ms. */
const MAX_ACCEPT_BACKOFF_MS = 1_000;
/** Refusals of one kind are logged at most once per this many ms (with a count). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP (optionally TLS) listener; see the module doc. */
export class TcpListener implements Listener {
  readonly name: string;
  readonly #options: TcpListenerOptions;
  readonly #listener: Deno.Listener;
  readonly #open = new Set<AbortController>();
  readonly #dropLog = new Map<string, { count: number; lastAt: number }>();
  readonly #engine: LoopbackEngine;
  #sink: ConnectionSink | null = null;
  #closed = false;
  #loop: Promise<void> | null = null;

  /** Binds at once (so a busy address fails here, naming the config key). */
  constructor(options: TcpListenerOptions) {
    this.#options = options;
    const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
    const address = `${host}:${options.port}`;
    try {
      this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    } catch (error) {
      throw new ListenError(options.configKey, address, error);
    }
    this.name = `${options.tls ? "tls" : "plaintext"} ${address} (${options.configKey})`;
    try {
      // Requests reach the sink given to start(); none arrive before it.
      this.#engine = new LoopbackEngine((request, info) => this.#sink!.handle(request, info), {
        tls: options.tls,
        log: options.log,
      });
    } catch (error) {
      closeQuietly(this.#listener);
      throw new ListenError(`loopback for ${options.configKey}`, "127.0.0.1", error);
    }
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  start(sink: ConnectionSink): void {
    if (this.#loop) return;
    this.#sink = sink;
    this.#loop = this.#acceptLoop(this.#engine);
  }

  async #acceptLoop(engine: LoopbackEngine): Promise<void> {
    let backoff = 0;
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#closed) return;
        backoff = Math.min(Math.max(backoff * 2, 10), MAX_ACCEPT_BACKOFF_MS);
        this.#dropped("accept_error", { error: String(error), retry_ms: backoff });
        await sleep(backoff);
        continue;
      }
      this.#admit(conn, engine);
    }
  }

  #admit(conn: Deno.Conn, engine: LoopbackEngine): void {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const release = this.#options.admit(remote);
    if (typeof release === "string") {
      closeQuietly(conn);
      this.#dropped(release, {});
      return;
    }
    const end = new AbortController();
    this.#open.add(end);
    const timer = setTimeout(() => {
      this.#dropped("timeout", {});
      end.abort();
    }, this.#options.firstRequestTimeoutMs);
    const accepted: AcceptedStream = { stream: conn, remoteAddr: remote, signal: end.signal };
    const served = engine.serve(accepted);
    served.firstRequest.then(() => clearTimeout(timer));
    served.finished.then(() => {
      clearTimeout(timer);
      this.#open.delete(end);
      release();
    });
  }

  /** Logs a dropped socket, at most once per interval and kind (with how many since). */
  #dropped(reason: ConnectionDrop, extra: Record<string, unknown>): void {
    this.#options.onDrop?.(reason);
    const now = Date.now();
    const seen = this.#dropLog.get(reason) ?? { count: 0, lastAt: -Infinity };
    seen.count++;
    this.#dropLog.set(reason, seen);
    if (now - seen.lastAt < REFUSAL_LOG_INTERVAL_MS) return;
    const count = seen.count;
    seen.count = 0;
    seen.lastAt = now;
    const listener = this.name;
    switch (reason) {
      case "total":
        this.#options.log.warn(
          "connection refused: server.max_connections reached",
          { listener, count, ...extra },
        );
        break;
      case "per_client":
        this.#options.log.warn(
          "connection refused: server.max_connections_per_ip reached",
          { listener, count, ...extra },
        );
        break;
      case "timeout":
        this.#options.log.info(
          "connection closed: no request within server.first_request_timeout_ms",
          { listener, count, ...extra },
        );
        break;
      case "accept_error":
        this.#options.log.error("accept failed; pausing (descriptors exhausted?)", {
          listener,
          count,
          ...extra,
        });
        break;
    }
  }

  /** Stops accepting; HTTP requests in flight finish, then the connections are closed. */
  async shutdown(): Promise<void> {
    this.#stopAccepting();
    await this.#engine.shutdown();
  }

  /** Ends every connection now (after the grace period). */
  close(): void {
    this.#stopAccepting();
    for (const end of this.#open) end.abort();
    this.#engine.close();
  }

  #stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#listener);
  }
}

/** Closes a connection or listener that may already be closed. */
function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch { /* closed already: nothing left to release */ }
}
