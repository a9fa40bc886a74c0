/**
 * What connecting a client takes and what it is told: {@link ClientOptions},
 * the server's {@link SessionInfo} and the {@link ServerError} a refused
 * request rejects with.
 *
 * @module
 */
import type { Backend, DeviceCertificate } from "../crypto/mod.ts";
import type { ConnectMode, PaddingPolicy } from "../proto/mod.ts";
import type { FecCodec } from "../multipath/mod.ts";
import type { WebSocketChannelOpener } from "./channel.ts";
import type { ClientTransport, FallbackOptions } from "./transport.ts";
import type { PathSlotStatus, PathTarget } from "./multipath.ts";

/** Everything needed to connect one device. */
export interface ClientOptions {
  /** Server base URL, e.g. `https://localhost:8443`. */
  url: string;
  /** Path of the connect endpoint (default `/connect`; a CDN may forward another). */
  connectPath?: string;
  mode?: ConnectMode;
  /** A session pattern name from `SESSION_PATTERN_NAMES` (default: the first, `XK`). */
  pattern?: string;
  /** The server's Noise static public key (from /api/server-info). */
  serverStatic: Uint8Array;
  /**
   * The server's pinned ML-DSA-65 public key (`pq_signing_public` of the key
   * version in /api/server-info). A hybrid handshake whose signature does
   * not verify against it is refused.
   */
  serverPqPublic?: Uint8Array;
  /**
   * `prefer` (default): use the hybrid of `pattern` when the server's PQ key
   * is pinned; `require`: refuse to connect without a hybrid handshake;
   * `off`: classical only.
   */
  pq?: "off" | "prefer" | "require";
  /** The server's domain (bound into the key proof). */
  domain: string;
  deviceId: string;
  /** The device's 32-byte Ed25519 seed (`private_key` of its profile). */
  devicePrivateKey: Uint8Array;
  user?: { handle?: string; id?: string; display_name?: string; avatar_url?: string };
  /** A certificate issued by the server's device CA (object or its JSON text). */
  certificate?: DeviceCertificate | Record<string, unknown> | string;
  prologue?: string;
  caCerts?: string[];
  /**
   * An HTTP client to reuse (closed by the caller). Binary, SSE and long-poll sessions over HTTPS
   * share its one HTTP/2 connection: past `MAX_STREAMS_PER_HTTP_CLIENT` open at once the connect
   * fails with `HttpClientFullError` (./channel.ts) instead of waiting behind the server's stream
   * cap. Without it, `caCerts` gives each session a client of its own.
   */
  httpClient?: Deno.HttpClient;
  /** Opens `websocket`-mode channels instead of the platform's `WebSocket` (./channel.ts). */
  webSocketChannel?: WebSocketChannelOpener;
  /** Fails the connect after this long (default 15 s). */
  timeoutMs?: number;
  /**
   * Ordered ways to reach the server (./transport.ts; concrete ones in
   * ./transports/): each is tried in turn with `transportFallback`'s
   * per-attempt timeout (its `preferred` first). Absent: straight to `url`.
   */
  transports?: readonly ClientTransport[];
  /** How the `transports` are tried (timeout, the one to try first, attempt reports). */
  transportFallback?: FallbackOptions;
  /**
   * Acknowledge what the server delivers (default true). False for a short
   * connection that does not show deliveries (a one-shot `send`): nothing it
   * receives is acknowledged, so the server keeps every delivered frame in
   * the device's offline queue for its next connection (PROTOCOL.md §4).
   */
  acknowledgeDeliveries?: boolean;
  /**
   * Run a multipath session (PROTOCOL.md "Multipath"): the modes of the
   * paths to attach besides the first (`mode`). Empty or absent: one path.
   */
  paths?: PathTarget[];
  /** FEC policy of a multipath session (`auto`, `off`, `duplicate`, `raptorq[:overhead]`). */
  fecPolicy?: string;
  /** RaptorQ codec for a multipath session (without it, `raptorq` means duplicate). */
  fec?: FecCodec;
  /** Path changes of a multipath session (a path lost, attached again…). */
  onPaths?(paths: PathSlotStatus[]): void;
  /**
   * Crypto backend for the device key and Noise (default `native`,
   * node:crypto). Browsers use `noble`: the web bundle has no node:crypto.
   */
  backend?: Backend;
  /**
   * Length padding inside the Noise plaintext (PROTOCOL.md §2 "Padding";
   * default `classes`): asks for `pad1` unless `off`, and pads what it sends
   * once the server's Ack lists `pad1`.
   */
  padding?: PaddingPolicy;
  /**
   * Sees the size of every transport message (ciphertext bytes, without the
   * unit's length prefix) once the session is established: a capture point
   * for padding tests and the load tool's overhead figures.
   */
  onUnit?: (direction: "in" | "out", bytes: number) => void;
}

/** What the server said in its Ack. */
export interface SessionInfo {
  sessionId: string;
  userId: string;
  ack: Record<string, unknown>;
}

/** A server reply to one of our frames was an Error. */
export class ServerError extends Error {
  readonly code: string;
  readonly body: Record<string, unknown>;
  constructor(body: Record<string, unknown>) {
    super(`${body.error}: ${body.detail ?? ""}`);
    this.name = "ServerError";
    this.code = String(body.error);
    this.body = body;
  }
}
