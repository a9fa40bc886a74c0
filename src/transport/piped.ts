/**
 * One connection of the loopback engine (./loopback_engine.ts): the accepted
 * stream, its loopback dial and the two pumps between them, with the
 * engine's registry it enters and leaves. Its own module so the engine file
 * keeps to the engine (its server, the held connections).
 *
 * @module
 */
import { Pump } from "./byte_pump.ts";
import type {
  AcceptedStream,
  ByteConn,
  ByteStream,
  ServedConnection,
  ServedEvents,
} from "./listener.ts";

/** What a request on the loopback server finds by its peer port. */
export interface Route {
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  markFirst(): void;
}

/** The engine's bookkeeping a {@link Piped} connection enters and leaves. */
export interface Registry {
  /** Open connections by the port of their loopback dial. */
  readonly routes: Map<number, Piped>;
  /** Open connections not dialled yet (a connection is in one of the two: one entry each). */
  readonly served: Set<Piped>;
}

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
export class Piped implements Route, ServedConnection, EventListenerObject {
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

  /** Whether it has ended (a held connection may end before its dial: a timeout, a shutdown). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Starts listening to its abort signal: false (and ended) when it is aborted already. */
  begin(): boolean {
    if (this.#signal?.aborted) {
      this.close();
      return false;
    }
    this.#signal?.addEventListener("abort", this);
    return true;
  }

  /** Its loopback dial succeeded: pump both ways. */
  dialed(near: Deno.TcpConn): void {
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
