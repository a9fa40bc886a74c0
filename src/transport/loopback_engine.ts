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
import type { AcceptedStream, ByteStream, RequestHandler, ServedConnection } from "./listener.ts";

/** Options of {@link LoopbackEngine}. */
export interface LoopbackEngineOptions {
  /** TLS terminated by the engine (PEM); absent → plaintext HTTP/1.1 and h2c. */
  tls?: { cert: string; key: string };
  log: Logger;
}

/**
 * Smallest and largest pump buffer: small while idle (memory), large under
 * load. A pending read holds its buffer for as long as the peer is silent, so
 * the idle size is what every idle connection costs twice (once per
 * direction): 256 B instead of 2 KiB saves ~3.5 KiB per idle connection; a
 * burst grows it back by doubling on every full read.
 */
const MIN_CHUNK = 256;
const MAX_CHUNK = 64 * 1024;
/** Wait before restarting the loopback server after it failed (descriptors exhausted). */
const RESTART_DELAY_MS = 100;

interface Route {
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  readonly markFirst: () => void;
}

const ignore = () => {};

function isDenoConn(stream: Deno.Conn | ByteStream): stream is Deno.Conn {
  return "read" in stream;
}

function closeQuietly(resource: { close(): void } | null | undefined): void {
  try {
    resource?.close();
  } catch { /* closed already */ }
}

/**
 * Copies `from` to `to` with a buffer that doubles on a full read and, after
 * a read that left it mostly empty, shrinks to twice what that read carried:
 * the socket was drained, and the next read may be the one that waits (and
 * holds its buffer) while the connection idles.
 */
async function pump(
  read: (buf: Uint8Array) => Promise<number | null>,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  let size = MIN_CHUNK;
  let buf = new Uint8Array(size);
  for (;;) {
    const n = await read(buf);
    if (n === null) return;
    await write(buf.subarray(0, n));
    const next = n === size ? Math.min(size * 2, MAX_CHUNK) : n < size / 4 ? fitting(n) : size;
    if (next !== size) {
      size = next;
      buf = new Uint8Array(size);
    }
  }
}

/** The smallest power of two ≥ 2n, within the pump's bounds. */
function fitting(n: number): number {
  let size = MIN_CHUNK;
  while (size < 2 * n && size < MAX_CHUNK) size *= 2;
  return size;
}

/** Writes all of `chunk` to a Deno connection (writes may be partial). */
async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += await conn.write(chunk.subarray(off));
}

/** The engine: see the module doc. */
export class LoopbackEngine {
  readonly #handler: RequestHandler;
  readonly #options: LoopbackEngineOptions;
  /** Open connections by the port of their loopback dial. */
  readonly #routes = new Map<number, Route>();
  readonly #served = new Set<{ close(): void }>();
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #closed = false;

  constructor(handler: RequestHandler, options: LoopbackEngineOptions) {
    this.#handler = handler;
    this.#options = options;
    this.#server = this.#startServer();
  }

  /** Connections being served now. */
  get open(): number {
    return this.#served.size;
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
    let markFirst!: () => void;
    const firstRequest = new Promise<void>((r) => (markFirst = r));
    let near: Deno.TcpConn | null = null;
    let ended = false;
    const source = accepted.stream;
    const close = () => {
      if (ended) return;
      ended = true;
      closeQuietly(near);
      closeQuietly(source);
    };
    const entry = { close };
    this.#served.add(entry);
    accepted.signal?.addEventListener("abort", close, { once: true });
    const finished = (async () => {
      let port = -1;
      try {
        const server = this.#server;
        if (!server || accepted.signal?.aborted) return;
        near = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
        if (ended) return;
        port = near.localAddr.port;
        // Both hops carry small interactive writes (one WebSocket message per
        // frame): with Nagle's algorithm on, a write waits for the peer's
        // delayed ACK (up to 40 ms on Linux) and the session stalls.
        near.setNoDelay(true);
        if (isDenoConn(source) && "setNoDelay" in source) {
          (source as Deno.TcpConn).setNoDelay(true);
        }
        this.#routes.set(port, { remoteAddr: accepted.remoteAddr, markFirst });
        const dial = near;
        // A Deno connection is read with an adaptive buffer; a ByteStream through its streams.
        const [up, down] = isDenoConn(source)
          ? [
            pump((b) => source.read(b), (c) => writeAll(dial, c)),
            pump((b) => dial.read(b), (c) => writeAll(source, c)),
          ]
          : [
            source.readable.pipeTo(dial.writable),
            dial.readable.pipeTo(source.writable),
          ];
        // Either direction ending or failing (a reset) ends the connection: nothing to report.
        // (One promise, not Promise.race over two `catch` promises: held per idle connection.)
        await new Promise<void>((end) => {
          up.then(end, end);
          down.then(end, end);
        });
      } catch (error) {
        // The loopback dial failed (descriptors exhausted): the connection is dropped.
        if (!ended) {
          this.#options.log.warn("connection dropped: loopback dial failed", {
            error: String(error),
          });
        }
      } finally {
        close();
        if (port >= 0) this.#routes.delete(port);
        this.#served.delete(entry);
        accepted.signal?.removeEventListener("abort", close);
        markFirst();
      }
    })();
    return { firstRequest, finished };
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
    for (const s of [...this.#served]) s.close();
    const server = this.#server;
    this.#server = null;
    // Its connections are all cut, so this resolves at once; a failed server has nothing to end.
    server?.shutdown().catch(ignore);
  }
}
