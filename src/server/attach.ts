/**
 * `/connect?attach`: a new path of a multipath session (PROTOCOL.md
 * "Multipath"). Same modes and links as `/connect`; the first upstream unit
 * is an ATTACH naming the session with a single-use token. A refusal is an
 * Error frame on the new connection, which then closes; the session it
 * named is not touched. Attaches take handshake slots (rate limits apply).
 *
 * @module
 */
import type { ConnectMode } from "../proto/mod.ts";
import { AttachingPath } from "../multipath/mod.ts";
import {
  createStreamLink,
  createWebSocketLink,
  isWebSocketUpgrade,
  type Link,
  streamHeaders,
  webSocketLivenessSeconds,
} from "../transport/mod.ts";
import { tooManyHandshakes } from "../security/ratelimit/mod.ts";
import { problem } from "../http/mod.ts";
import { holdSlotWhileOpen } from "../transport/listener.ts";
import { ChunkReader } from "../transport/chunk_reader.ts";
import type { ConnectHandlerOptions } from "./connect.ts";

/** Handles one attach request. */
export function handleAttach(
  request: Request,
  mode: ConnectMode,
  options: ConnectHandlerOptions,
): Response {
  const hub = options.deps.multipath;
  if (!hub) return problem(404, "multipath sessions are off on this server");
  const id = crypto.randomUUID();
  const timeoutMs = options.deps.handshakeTimeoutMs;
  const ref: { path?: AttachingPath; timer?: ReturnType<typeof setTimeout> } = {};
  const done = () => {
    clearTimeout(ref.timer);
    options.leave?.(id);
  };
  const start = (link: Link) => {
    const path = ref.path = new AttachingPath(link, hub, done);
    ref.timer = setTimeout(() => path.refuse(`no attach unit within ${timeoutMs} ms`), timeoutMs);
    return path;
  };
  if (mode === "websocket") {
    if (request.method !== "GET") return problem(405, "websocket upgrade requires GET");
    if (!isWebSocketUpgrade(request.headers)) {
      return problem(400, "websocket mode needs an Upgrade: websocket request over HTTP/1.1");
    }
    if (options.admit && !options.admit(id)) return tooManyHandshakes();
    const livenessSeconds = webSocketLivenessSeconds(timeoutMs);
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout: livenessSeconds });
    } catch (error) {
      options.leave?.(id);
      return problem(400, `websocket upgrade failed: ${(error as Error).message}`);
    }
    holdSlotWhileOpen(request, upgraded.socket);
    const link = createWebSocketLink(upgraded.socket, {
      onData: (chunk) => ref.path?.receive(chunk),
      onClose: () => ref.path?.closed(),
      onBadText: () => ref.path?.refuse("websocket text message is not base64"),
    }, { livenessSeconds });
    start(link);
    upgraded.response.headers.set("x-commucat-connect-mode", "websocket");
    return upgraded.response;
  }
  if (request.method !== "GET" && request.method !== "POST") {
    return problem(405, "/connect accepts GET or POST");
  }
  if (options.admit && !options.admit(id)) return tooManyHandshakes();
  // Exact-size chunks from one reused buffer (not a fresh 64 KiB one per unit: chunk_reader.ts).
  const upstream = request.body ? new ChunkReader(request.body) : undefined;
  const link = createStreamLink({
    mode,
    keepaliveMs: options.keepaliveMs,
    onClose: () => {
      ref.path?.closed();
      void upstream?.cancel();
    },
  });
  const path = start(link);
  if (upstream) void pump(upstream, path);
  return new Response(link.body, { status: 200, headers: streamHeaders(mode) });
}

async function pump(
  upstream: ChunkReader,
  path: AttachingPath,
): Promise<void> {
  try {
    while (true) {
      const { value, done } = await upstream.read();
      if (done) break;
      path.receive(value);
    }
  } catch { /* reset: the link's close handler reports it */ }
  path.closed();
}
