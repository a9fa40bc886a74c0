/**
 * The listener seam: a listener accepts connections in its own way (TLS over
 * TCP today; a Shadowsocks or pluggable-transport listener tomorrow) and hands
 * what it accepted to a {@link ConnectionSink} — the server's one HTTP app.
 * The app sees `(request, info)` with `info.remoteAddr` naming the real
 * client, so rate limits and trusted proxies work unchanged.
 *
 * A new listener implements {@link Listener} and is added where the server
 * builds its listeners (src/server/listeners.ts); no app code changes.
 *
 * @module
 */

/** The server's HTTP app, as listeners call it. */
export type RequestHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** Where listeners hand what they accept. */
export interface ConnectionSink {
  /** Serves one request. */
  readonly handle: RequestHandler;
}

/** A source of connections. */
export interface Listener {
  /** For logs and errors, e.g. `"tls 0.0.0.0:8443 (server.bind)"`. */
  readonly name: string;
  /** The bound address (the resolved port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Starts accepting; everything accepted goes to `sink`. */
  start(sink: ConnectionSink): void;
  /** Stops accepting and ends its connections gracefully (requests in flight finish). */
  shutdown(): Promise<void>;
}
