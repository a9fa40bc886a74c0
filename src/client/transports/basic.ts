/**
 * The carriers that need nothing but Deno's HTTP client: direct TLS, the
 * WebSocket `/connect` on a custom path (behind a CDN or reverse proxy that
 * forwards that one path), and any SOCKS5 proxy (Tor's, ss-local's, an SSH
 * `-D` tunnel's…).
 *
 * @module
 */
import type { ClientTransport, TransportContext, TransportRoute } from "../transport.ts";

/** An HTTP client trusting the context's CAs, optionally through a proxy; undefined when default suffices. */
export function httpClientFor(
  context: TransportContext,
  proxy?: Deno.Proxy,
): Deno.HttpClient | undefined {
  if (!proxy && !context.caCerts) return undefined;
  return Deno.createHttpClient({ caCerts: context.caCerts, ...(proxy ? { proxy } : {}) });
}

function closer(client: Deno.HttpClient | undefined): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    client?.close();
  };
}

/** Straight to the profile's server URL (TLS from end to end). */
export class DirectTransport implements ClientTransport {
  readonly kind = "direct";
  readonly label: string;
  constructor(label = "direct") {
    this.label = label;
  }
  open(context: TransportContext): Promise<TransportRoute> {
    const httpClient = httpClientFor(context);
    return Promise.resolve({ url: context.url, httpClient, close: closer(httpClient) });
  }
}

/**
 * `/connect` as a WebSocket at another URL — a CDN front or a reverse proxy
 * forwarding an unguessable path (`transport.websocket_path` on the server).
 */
export class WebSocketPathTransport implements ClientTransport {
  readonly kind = "websocket";
  readonly label: string;
  readonly #base: string;
  readonly #path: string;
  /** `url`: the full WebSocket endpoint, e.g. `https://cdn.example.org/c7f3a9` (http(s) or ws(s)). */
  constructor(url: string) {
    const parsed = new URL(url.replace(/^ws/, "http"));
    this.#base = parsed.origin;
    this.#path = parsed.pathname === "/" ? "/connect" : parsed.pathname;
    this.label = `websocket ${this.#base}${this.#path}`;
  }
  open(context: TransportContext): Promise<TransportRoute> {
    const httpClient = httpClientFor(context);
    return Promise.resolve({
      url: this.#base,
      connectPath: this.#path,
      mode: "websocket",
      httpClient,
      close: closer(httpClient),
    });
  }
}

/** Through a SOCKS5 proxy: the TLS to the server runs inside the proxied TCP stream. */
export class Socks5Transport implements ClientTransport {
  readonly kind: string;
  readonly label: string;
  readonly #proxy: Deno.Proxy;
  /**
   * `proxy`: `socks5://host:port` (`socks5h://` resolves names at the
   * proxy); `credentials` for a proxy that asks (PT arguments ride here too).
   */
  constructor(
    proxy: string,
    credentials?: { username: string; password: string },
    kind = "socks5",
  ) {
    const parsed = new URL(proxy);
    if (parsed.protocol !== "socks5:" && parsed.protocol !== "socks5h:") {
      throw new Error(`SOCKS5 proxy must be socks5://host:port, got ${parsed.protocol}`);
    }
    this.kind = kind;
    this.label = `${kind} ${parsed.host}`;
    this.#proxy = { url: proxy, ...(credentials ? { basicAuth: credentials } : {}) };
  }
  open(context: TransportContext): Promise<TransportRoute> {
    const httpClient = httpClientFor(context, this.#proxy);
    return Promise.resolve({ url: context.url, httpClient, close: closer(httpClient) });
  }
}
