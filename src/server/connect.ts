/**
 * `/connect`: picks the mode, builds the link and hands it to a fresh
 * {@link ServerConnection}.
 *
 * @module
 */
import type { ConnectionDeps } from "../session/mod.ts";
import { ServerConnection } from "../session/mod.ts";
import {
  createStreamLink,
  createWebSocketLink,
  isWebSocketUpgrade,
  selectConnectMode,
  streamHeaders,
  type WebSocketLinkHandlers,
  webSocketLivenessSeconds,
} from "../transport/mod.ts";
import { tooManyHandshakes } from "../security/ratelimit/mod.ts";
import { problem } from "../http/mod.ts";
import { holdSlotUntil } from "../transport/listener.ts";
import { ChunkReader } from "../transport/chunk_reader.ts";
import { handleAttach } from "./attach.ts";

/** Options of the `/connect` handler. */
export interface ConnectHandlerOptions {
  deps: ConnectionDeps;
  /** SSE / long-poll idle keepalive period. */
  keepaliveMs: number;
  /** Called for every new connection (the server tracks them for shutdown). */
  track: (connection: ServerConnection) => void;
  /** Takes a handshake slot; false when too many handshakes are in flight. */
  admit?: (id: string) => boolean;
  /** Gives a slot back (idempotent). */
  leave?: (id: string) => void;
}

/** Handles one `/connect` request (`url`: its URL, when already parsed). */
export function handleConnect(
  request: Request,
  options: ConnectHandlerOptions,
  url: URL = new URL(request.url),
): Response {
  const mode = selectConnectMode(url, request.headers);
  // A new path of a multipath session (PROTOCOL.md "Multipath").
  if (url.searchParams.has("attach")) return handleAttach(request, mode, options);
  const id = crypto.randomUUID();
  if (mode === "websocket") {
    if (request.method !== "GET") return problem(405, "websocket upgrade requires GET");
    if (!isWebSocketUpgrade(request.headers)) {
      return problem(400, "websocket mode needs an Upgrade: websocket request over HTTP/1.1");
    }
    if (options.admit && !options.admit(id)) return tooManyHandshakes();
    // A peer stalled mid-message is dropped by the ping/pong liveness check (Deno
    // has no message-size cap for server sockets): see webSocketLivenessSeconds.
    const livenessSeconds = webSocketLivenessSeconds(options.deps.handshakeTimeoutMs);
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout: livenessSeconds });
    } catch (error) {
      options.leave?.(id);
      return problem(400, `websocket upgrade failed: ${(error as Error).message}`);
    }
    // The link's callbacks need the connection, which needs the link.
    const handlers = new WebSocketToConnection();
    const link = createWebSocketLink(upgraded.socket, handlers, { livenessSeconds });
    const connection = handlers.connection = new ServerConnection(link, options.deps, id);
    options.track(connection);
    // (Direct accept) the slot is held until the session ends: its socket's close ends it.
    holdSlotUntil(request, (end) => connection.onDone(end), upgraded.socket);
    upgraded.response.headers.set("x-commucat-connect-mode", "websocket");
    return upgraded.response;
  }
  if (request.method !== "GET" && request.method !== "POST") {
    return problem(405, "/connect accepts GET or POST");
  }
  if (options.admit && !options.admit(id)) return tooManyHandshakes();
  const ref: { connection?: ServerConnection } = {};
  // Whoever ends the session, the request body is cancelled: an upstream left
  // unread keeps the HTTP connection (and its socket) alive after the client
  // is gone, in CLOSE-WAIT for ever (issue 19).
  const upstream = request.body ? new ChunkReader(request.body) : undefined;
  const link = createStreamLink({
    mode,
    keepaliveMs: options.keepaliveMs,
    onClose: () => {
      ref.connection?.linkClosed("client went away");
      void upstream?.cancel(); // never throws: the body may have failed already
    },
  });
  const connection = ref.connection = new ServerConnection(link, options.deps, id);
  options.track(connection);
  if (upstream) void pumpBody(upstream, connection);
  return new Response(link.body, { status: 200, headers: streamHeaders(mode) });
}

/**
 * A WebSocket link's callbacks into its connection, as methods: three arrow
 * functions and their context were held per idle connection.
 */
class WebSocketToConnection implements WebSocketLinkHandlers {
  connection: ServerConnection | undefined;

  onData(chunk: Uint8Array): void {
    void this.connection?.receive(chunk);
  }

  onClose(): void {
    this.connection?.linkClosed();
  }

  onBadText(): void {
    this.connection?.close("protocol_error", "websocket text message is not base64");
  }
}

async function pumpBody(
  upstream: ChunkReader,
  connection: ServerConnection,
): Promise<void> {
  try {
    while (true) {
      const { value, done } = await upstream.read();
      if (done) break;
      await connection.receive(value);
    }
    connection.end();
  } catch {
    connection.close("client_closed", "upstream error");
  }
}
