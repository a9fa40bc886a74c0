/**
 * The WebSocket link: one binary message per unit downstream; upstream binary
 * messages are raw bytes and text messages are base64 (upstream §2.3).
 *
 * @module
 */
import { decodeBase64 } from "../proto/mod.ts";
import type { Link, UnitHeader } from "./link.ts";

/**
 * Ping/pong liveness of server WebSockets, in seconds, for `Deno.upgradeWebSocket`'s
 * `idleTimeout`: after half of it without a message the server pings; a peer
 * that has not answered by the end is dropped. A peer stalled in the middle of
 * a message cannot answer, so this is what frees what Deno buffered of it.
 */
export function webSocketLivenessSeconds(handshakeTimeoutMs: number): number {
  return Math.max(2, Math.ceil(handshakeTimeoutMs / 1000));
}

/** Callbacks a WebSocket link reports to. */
export interface WebSocketLinkHandlers {
  /** Upstream bytes, in order. */
  onData(chunk: Uint8Array): void;
  /** The socket closed (either side). */
  onClose(): void;
  /** A text message that is not valid base64 (ignored, reported). */
  onBadText?(): void;
}

/** Options of {@link createWebSocketLink}. */
export interface WebSocketLinkOptions {
  /** The `idleTimeout` the socket was upgraded with (see {@link webSocketLivenessSeconds}). */
  livenessSeconds: number;
}

/**
 * The link is its socket's event listener (`handleEvent`): `onmessage` and
 * friends each cost a wrapper closure, its context and a per-socket Map of
 * handlers in Deno, held for every idle connection. It listens to `message`
 * and `close` only: Deno dispatches `close` after every `error` of an open
 * socket (a failed read, a failed close), and each event type costs a
 * listener list, entry and options object per socket (~0.25 KiB). The one
 * `error` without a `close` is an upgrade that failed before the socket
 * opened: no byte arrived, and the connection's handshake timeout ends it.
 */
class WebSocketLink implements Link, EventListenerObject {
  readonly mode = "websocket" as const;
  /** `WebSocket.send` copies a binary message before returning (Deno's op, browsers per spec). */
  get copiesOnSend(): boolean {
    return true;
  }
  #socket: WebSocket;
  #handlers: WebSocketLinkHandlers;
  #closed = false;
  #aborted = false;
  #livenessMs: number;
  #fallback: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: WebSocket, handlers: WebSocketLinkHandlers, options: WebSocketLinkOptions) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#livenessMs = options.livenessSeconds * 1000;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", this);
    socket.addEventListener("close", this);
  }

  handleEvent(event: Event): void {
    if (event.type === "message") return this.#message((event as MessageEvent).data);
    // close: ends the link.
    clearTimeout(this.#fallback);
    this.#fallback = undefined;
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.onClose();
  }

  #message(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      this.#handlers.onData(new Uint8Array(data));
    } else if (typeof data === "string") {
      let bytes: Uint8Array;
      try {
        bytes = decodeBase64(data);
      } catch {
        this.#handlers.onBadText?.();
        return;
      }
      this.#handlers.onData(bytes);
    }
  }

  get backlogBytes(): number {
    return this.#closed ? 0 : this.#socket.bufferedAmount;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(unit: Uint8Array, _header: UnitHeader | null): void {
    if (this.#closed || this.#aborted || this.#socket.readyState !== WebSocket.OPEN) return;
    // Units are never views of a SharedArrayBuffer; the DOM lib (the web client's
    // check, which reaches this file through the SDK) insists on an ArrayBuffer.
    this.#socket.send(unit as Uint8Array<ArrayBuffer>);
  }

  /**
   * Deno's WebSocket has no forced close: a closing handshake started with
   * `close()` waits for the peer's answer, and while it waits Deno's liveness
   * check is off, so a peer stalled mid-message would be held (with what Deno
   * buffered of its message) for ever. Instead the socket stays open for the
   * liveness check, which drops a peer that cannot answer its ping; a peer
   * that still answers after that gets the ordinary close.
   */
  abort(): void {
    if (this.#closed || this.#aborted) return;
    this.#aborted = true;
    this.#fallback = setTimeout(() => this.close(), this.#livenessMs + 1000);
  }

  close(): void {
    clearTimeout(this.#fallback);
    if (
      this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING
    ) {
      try {
        this.#socket.close(1000, "closed");
      } catch { /* already closing */ }
    }
  }
}

/** Wraps an upgraded server-side WebSocket as a link. */
export function createWebSocketLink(
  socket: WebSocket,
  handlers: WebSocketLinkHandlers,
  options: WebSocketLinkOptions,
): Link {
  return new WebSocketLink(socket, handlers, options);
}
