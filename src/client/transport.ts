/**
 * The client's transport seam: a {@link ClientTransport} is one way to reach
 * the server's HTTP(S) endpoint (direct TLS, a WebSocket path behind a CDN, a
 * Shadowsocks server, a SOCKS5 proxy, a Tor pluggable transport…). Opening
 * one yields a {@link TransportRoute}: the base URL, `/connect` path, mode and
 * HTTP client the SDK then uses unchanged — every carrier ends in the same
 * TLS + `/connect` the direct path speaks, so nothing on the wire above the
 * carrier differs.
 *
 * {@link connectThroughTransports} tries an ordered list, each attempt
 * bounded by a timeout, and reports every failure with its censorship signal
 * (connection reset, refused, TLS failure, timeout). Concrete transports
 * that need Deno networking or node:crypto live in ./transports/ (not part
 * of the browser bundle).
 *
 * @module
 */
import type { ConnectMode } from "../proto/mod.ts";
import { CommuCatClient } from "./client.ts";
import { type ClientOptions, ServerError } from "./options.ts";

/** What an opened transport gives the SDK to reach `/connect`. */
export interface TransportRoute {
  /** Base URL of the server as seen through this route (a CDN front may differ from the profile's). */
  url: string;
  /** The connect endpoint's path (default `/connect`). */
  connectPath?: string;
  /** A `/connect` mode this route needs (e.g. `websocket` through a CDN); else the caller's. */
  mode?: ConnectMode;
  /** The HTTP client carrying the route (proxy, trusted CAs); owned by the route. */
  httpClient?: Deno.HttpClient;
  /**
   * The carrier's own last failure (e.g. a bridge's upstream connect error):
   * a truer censorship signal than the HTTP client's error, when present.
   */
  failure?(): unknown;
  /** Releases what opening started (HTTP client, local bridge, child process). Idempotent. */
  close(): void | Promise<void>;
}

/** What a transport is opened with. */
export interface TransportContext {
  /** The profile's server base URL (e.g. `https://chat.example.org:8443`). */
  url: string;
  /** Extra trusted CA certificates (PEM). */
  caCerts?: string[];
  /** Aborted when the attempt's time is up: stop starting things. */
  signal: AbortSignal;
}

/** One way to reach the server (the seam other carriers, e.g. obfs4, plug into). */
export interface ClientTransport {
  /** The kind: `direct`, `websocket`, `shadowsocks`, `socks5`, `obfs4`, … */
  readonly kind: string;
  /** A stable label without secrets (logs, the remembered choice), e.g. `shadowsocks 198.51.100.7:8388`. */
  readonly label: string;
  /** Opens the route; rejects when the carrier cannot start. */
  open(context: TransportContext): Promise<TransportRoute>;
}

/** How a failed attempt looked on the wire: the signals a censor leaves. */
export type CensorshipSignal = "reset" | "refused" | "tls" | "timeout" | "unreachable" | "other";

/** One attempt of {@link connectThroughTransports}. */
export interface TransportAttempt {
  transport: string;
  kind: string;
  ok: boolean;
  /** Set when the attempt failed. */
  signal?: CensorshipSignal;
  error?: string;
  elapsedMs: number;
}

/** Options of {@link connectThroughTransports}. */
export interface FallbackOptions {
  /** Time for one attempt: opening the route plus the whole handshake (default 10 s). */
  attemptTimeoutMs?: number;
  /** Label of the transport that worked last time: tried first. */
  preferred?: string;
  /** Called after every attempt (log the censorship signals). */
  onAttempt?: (attempt: TransportAttempt) => void;
}

/** The connected client and the transport that got through. */
export interface FallbackResult {
  client: CommuCatClient;
  transport: ClientTransport;
  /** The open route; closed by itself when the client's connection ends. */
  route: TransportRoute;
  attempts: TransportAttempt[];
}

/** Every transport failed: the attempts say how. */
export class NoTransportError extends Error {
  readonly attempts: TransportAttempt[];
  constructor(attempts: TransportAttempt[]) {
    super(
      "no transport reached the server: " +
        attempts.map((a) => `${a.transport}: ${a.signal} (${a.error})`).join("; "),
    );
    this.name = "NoTransportError";
    this.attempts = attempts;
  }
}

/** The error's message and its causes' (`fetch failed: … tcp connect error: …`). */
function messageOf(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}

function messagesOf(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    parts.push(e instanceof Error ? `${e.name} ${e.message}` : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" | ");
}

/** Classifies a connect failure by what the network did (Deno's errors and messages). */
export function censorshipSignal(error: unknown): CensorshipSignal {
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  if (error instanceof Deno.errors.ConnectionRefused) return "refused";
  if (error instanceof Deno.errors.TimedOut) return "timeout";
  const text = messagesOf(error).toLowerCase();
  if (/reset by peer|connection reset|econnreset|broken pipe/.test(text)) return "reset";
  // Deno's WebSocket reports a failed TCP connect without the OS reason; a
  // timeout is caught by the attempt's own deadline first, so it is a refusal.
  if (/refused|econnrefused|tcp connect error/.test(text)) return "refused";
  if (/timed out|timeout/.test(text)) return "timeout";
  if (/tls|certificate|handshake eof|unexpected eof|alert|invalid ?peer/.test(text)) return "tls";
  if (/unreachable|no route|dns|lookup|resolve/.test(text)) return "unreachable";
  return "other";
}

/** Puts the remembered transport first, keeping the others' order. */
export function orderTransports(
  transports: readonly ClientTransport[],
  preferred?: string,
): ClientTransport[] {
  const first = transports.filter((t) => t.label === preferred);
  return [...first, ...transports.filter((t) => t.label !== preferred)];
}

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`attempt timed out after ${ms} ms`);
    this.name = "TimedOut";
  }
}

/**
 * Records how the attempt of `transport` begun at `started` went (a success,
 * or a failure with its `cause`'s censorship signal) and tells `onAttempt`.
 */
function recordAttempt(
  attempts: TransportAttempt[],
  onAttempt: FallbackOptions["onAttempt"],
  transport: ClientTransport,
  started: number,
  failure?: { cause: unknown },
): void {
  const elapsedMs = Math.round(performance.now() - started);
  const attempt: TransportAttempt = failure === undefined
    ? { transport: transport.label, kind: transport.kind, ok: true, elapsedMs }
    : {
      transport: transport.label,
      kind: transport.kind,
      ok: false,
      signal: failure.cause instanceof AttemptTimeout ? "timeout" : censorshipSignal(failure.cause),
      error: messageOf(failure.cause),
      elapsedMs,
    };
  attempts.push(attempt);
  onAttempt?.(attempt);
}

/**
 * Connects through the first transport that works, in order (the preferred
 * one first). A refusal by the server itself (an Error frame) is not a
 * blocked path: it is thrown at once, as retrying elsewhere cannot help.
 */
export async function connectThroughTransports(
  options: ClientOptions,
  transports: readonly ClientTransport[],
  fallback: FallbackOptions = {},
): Promise<FallbackResult> {
  if (transports.length === 0) throw new Error("no transport configured");
  const timeoutMs = fallback.attemptTimeoutMs ?? 10_000;
  const attempts: TransportAttempt[] = [];
  for (const transport of orderTransports(transports, fallback.preferred)) {
    const started = performance.now();
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new AttemptTimeout(timeoutMs));
      }, timeoutMs);
    });
    let route: TransportRoute | undefined;
    let connecting: Promise<CommuCatClient> | undefined;
    const opening = transport.open({
      url: options.url,
      caCerts: options.caCerts,
      signal: abort.signal,
    })
      .then((r) => (route = r));
    try {
      await Promise.race([opening, expired]);
      connecting = CommuCatClient.connect({
        ...options,
        url: route!.url,
        connectPath: route!.connectPath,
        mode: route!.mode ?? options.mode,
        httpClient: route!.httpClient,
        timeoutMs: Math.max(1, timeoutMs - (performance.now() - started)),
      });
      const client = await Promise.race([connecting, expired]);
      const done = route!;
      client.finished.finally(() => done.close());
      recordAttempt(attempts, fallback.onAttempt, transport, started);
      return { client, transport, route: done, attempts };
    } catch (error) {
      // A client or route that completes after the deadline is closed too.
      connecting?.then((c) => c.close(), () => {});
      opening.then((r) => r.close(), () => {});
      if (error instanceof ServerError) throw error;
      const cause = route?.failure?.() ?? error;
      recordAttempt(attempts, fallback.onAttempt, transport, started, { cause });
    } finally {
      clearTimeout(timer);
    }
  }
  throw new NoTransportError(attempts);
}

/** What {@link fetchThroughTransports} got. */
export interface FetchedThrough {
  status: number;
  text: string;
  transport: ClientTransport;
  attempts: TransportAttempt[];
}

/**
 * One GET of `path` (e.g. `/api/server-info`, before a device exists)
 * through the first transport that answers, in order, each bounded by the
 * attempt timeout; the route is closed once the body is read. Any HTTP
 * answer counts as getting through (the caller judges the status).
 */
export async function fetchThroughTransports(
  url: string,
  path: string,
  transports: readonly ClientTransport[],
  options: FallbackOptions & { caCerts?: string[] } = {},
): Promise<FetchedThrough> {
  if (transports.length === 0) throw new Error("no transport configured");
  const timeoutMs = options.attemptTimeoutMs ?? 10_000;
  const attempts: TransportAttempt[] = [];
  for (const transport of orderTransports(transports, options.preferred)) {
    const started = performance.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new AttemptTimeout(timeoutMs)), timeoutMs);
    let route: TransportRoute | undefined;
    try {
      route = await transport.open({ url, caCerts: options.caCerts, signal: abort.signal });
      const base = route.url.replace(/\/+$/, "");
      const response = await fetch(`${base}${path}`, {
        signal: abort.signal,
        ...(route.httpClient ? { client: route.httpClient } : {}),
      } as RequestInit);
      const text = await response.text();
      recordAttempt(attempts, options.onAttempt, transport, started);
      return { status: response.status, text, transport, attempts };
    } catch (error) {
      const cause = route?.failure?.() ?? (abort.signal.aborted ? abort.signal.reason : error);
      recordAttempt(attempts, options.onAttempt, transport, started, { cause });
    } finally {
      clearTimeout(timer);
      await route?.close();
    }
  }
  throw new NoTransportError(attempts);
}
