/**
 * The listener seam: a listener accepts connections in its own way (TLS over
 * TCP today; a Shadowsocks or pluggable-transport listener tomorrow) and hands
 * what it accepted to a {@link ConnectionSink} — the server's one HTTP app.
 * The app sees `(request, info)` with `info.remoteAddr` naming the real
 * client, so rate limits and trusted proxies work unchanged.
 *
 * A listener that owns raw sockets (TCP) or produces decrypted byte streams
 * (a Shadowsocks or pluggable-transport listener) hands each
 * {@link AcceptedStream} to a `LoopbackEngine` (./loopback_engine.ts), which
 * serves HTTP/1.1 and HTTP/2 on it and calls the sink. A new listener
 * implements {@link Listener} and is added where the server builds its
 * listeners (src/server/listeners.ts); no app code changes.
 *
 * @module
 */

/** The server's HTTP app, as listeners call it. */
export type RequestHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** A duplex byte stream that is not a Deno resource (e.g. decrypted by a listener in JS). */
export interface ByteStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Ends both directions at once (idempotent). */
  close(): void;
}

/**
 * A duplex byte connection read and written like a `Deno.Conn` (which is
 * one): the engine copies it with one reused buffer per direction, where a
 * {@link ByteStream} costs a new chunk per read. `write` is awaited before the
 * next call and may return fewer bytes than given (the rest is written again).
 */
export interface ByteConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(chunk: Uint8Array): Promise<number>;
  /** Ends both directions at once (idempotent). */
  close(): void;
}

/**
 * A connection slot taken by a listener's `admit` (e.g. a `ConnectionCaps`
 * ticket): an object with a method rather than a release closure and its
 * context, as it is held for as long as the connection is open.
 */
export interface SlotTicket {
  /** Gives the slot back (idempotent). */
  release(): void;
}

/** The ticket of an `admit` that counts no slots (a listener admitting every socket). */
export const UNCOUNTED_SLOT: SlotTicket = { release() {} };

/** A connection a listener accepted, with whom it is from. */
export interface AcceptedStream {
  /** The bytes (HTTP, or TLS carrying HTTP): a Deno connection, a {@link ByteConn} or a {@link ByteStream}. */
  readonly stream: Deno.Conn | ByteConn | ByteStream;
  /** The client as the listener knows it (after any tunnel or proxy protocol). */
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /** Aborted when the connection must end now (first-request timeout, shutdown). */
  readonly signal?: AbortSignal;
  /**
   * Told of the first request and of the end, like {@link ServedConnection}'s
   * promises, which are then made only if asked for (an idle guarded TLS
   * connection held two promises, a resolver and the reactions on them).
   */
  readonly events?: ServedEvents;
}

/** What {@link AcceptedStream.events} is told (each at most once). */
export interface ServedEvents {
  /** The first HTTP request arrived (or the connection ended first). */
  firstRequest(): void;
  /** The connection has ended. */
  ended(): void;
}

/** One connection being served by an engine. */
export interface ServedConnection {
  /** Resolves at its first HTTP request (or when it ends first); never rejects. */
  readonly firstRequest: Promise<void>;
  /** Resolves when the connection has ended; never rejects. */
  readonly finished: Promise<void>;
  /** Ends the connection now (idempotent). */
  readonly close: () => void;
}

/** Where listeners hand what they accept. */
export interface ConnectionSink {
  /** Serves one request. */
  readonly handle: RequestHandler;
}

/** How hard a transport is to tell apart or block (upstream's scale, lowest first). */
export type TransportResistance = "Basic" | "Enhanced" | "Maximum" | "Paranoid";

/** A coarse cost level (upstream's scale). */
export type TransportLevel = "Low" | "Medium" | "High";

/**
 * What a listener offers a client, as `/api/p2p/assist` reports it: only
 * listeners actually bound appear there, each describing itself.
 */
export interface TransportDescriptor {
  /** Our name of the way in: `tls`, `h2c`, `shadowsocks`, `obfs4`, … */
  readonly kind: string;
  /** Upstream's transport label (`WebSocket`, `Shadowsocks`, …; §11.4 of the digest). */
  readonly transport: string;
  readonly resistance: TransportResistance;
  /** Added latency (Low = little). */
  readonly latency: TransportLevel;
  readonly throughput: TransportLevel;
  /** The bound port (clients reach it at the server's public name). */
  readonly port: number;
  /** The config key it comes from (`server.bind`). */
  readonly configKey: string;
  /** `/connect` modes it carries (all of them for an HTTP way in). */
  readonly modes: readonly string[];
  /**
   * The HTTP path of a way in that is a path, not a port: `/connect` served
   * again at `transport.websocket_path` for a CDN to forward.
   */
  readonly path?: string;
}

/** A source of connections. */
export interface Listener {
  /** For logs and errors, e.g. `"tls 0.0.0.0:8443 (server.bind)"`. */
  readonly name: string;
  /** The bound address (the resolved port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** What it offers clients (for `/api/p2p/assist`); secrets never appear here. */
  describe(): TransportDescriptor;
  /** Starts accepting; everything accepted goes to `sink`. */
  start(sink: ConnectionSink): void;
  /** Stops accepting and ends its connections gracefully (requests in flight finish). */
  shutdown(): Promise<void>;
  /** Ends every connection now (after the shutdown grace period). */
  close(): void;
}

/**
 * What a held slot is given back through: told once the session that holds
 * it is done. A method, not a callback, so a held slot is one object (a
 * bound callback per idle WebSocket session cost ~70 B).
 */
export interface SlotEnd {
  connectionDone(): void;
}

/**
 * When a held slot is given back: a promise that settles then, or a
 * registration that tells its {@link SlotEnd} once then (no promise, resolver
 * and reaction per idle connection: e.g. `(end) => connection.onDone(end)`).
 */
export type SlotUntil = Promise<void> | ((end: SlotEnd) => void);

/**
 * Keeps a request's connection slot until `until` (set by a listener counting requests);
 * `socket`, the WebSocket the request became, is the listener's to close when it shuts down.
 */
export type SlotHolder = (until: SlotUntil, socket?: WebSocket) => void;

/**
 * Where a listener that counts requests rather than sockets (the direct
 * accept mode, ./direct_serve.ts) leaves its {@link SlotHolder} on the
 * request it hands the app.
 */
export const HOLD_CONNECTION_SLOT: unique symbol = Symbol("commucat.holdConnectionSlot");

/**
 * Keeps the connection slot of `request` while `socket` is open: a WebSocket
 * session outlives its 101 response. A no-op when the listener counts sockets
 * (the guarded mode) and for requests no listener handed over.
 */
export function holdSlotWhileOpen(request: Request, socket: WebSocket): void {
  const hold = slotHolderOf(request);
  if (!hold) return;
  if (socket.readyState === WebSocket.CLOSED) return hold(Promise.resolve());
  hold(new Promise((resolve) => socket.addEventListener("close", () => resolve())), socket);
}

/**
 * Keeps the connection slot of `request` until `until` (a session's own end,
 * e.g. `(end) => connection.onDone(end)`): like {@link holdSlotWhileOpen}
 * without a close listener, a promise and two closures per idle WebSocket.
 * `socket` is the session's WebSocket, if any (the listener cuts it at shutdown).
 */
export function holdSlotUntil(request: Request, until: SlotUntil, socket?: WebSocket): void {
  slotHolderOf(request)?.(until, socket);
}

function slotHolderOf(request: Request): SlotHolder | undefined {
  return (request as Request & { [HOLD_CONNECTION_SLOT]?: SlotHolder })[HOLD_CONNECTION_SLOT];
}
