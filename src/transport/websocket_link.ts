/**
 * The WebSocket link: one binary message per unit downstream; upstream binary
 * messages are raw bytes and text messages are base64 (upstream §2.3).
 *
 * @module
 */
import { decodeBase64 } from "../proto/mod.ts";
import type { Link, UnitHeader } from "./link.ts";

/** Callbacks a WebSocket link reports to. */
export interface WebSocketLinkHandlers {
  /** Upstream bytes, in order. */
  onData(chunk: Uint8Array): void;
  /** The socket closed (either side). */
  onClose(): void;
  /** A text message that is not valid base64 (ignored, reported). */
  onBadText?(): void;
}

class WebSocketLink implements Link {
  readonly mode = "websocket" as const;
  #socket: WebSocket;
  #closed = false;

  constructor(socket: WebSocket, handlers: WebSocketLinkHandlers) {
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) {
        handlers.onData(new Uint8Array(event.data));
      } else if (typeof event.data === "string") {
        let bytes: Uint8Array;
        try {
          bytes = decodeBase64(event.data);
        } catch {
          handlers.onBadText?.();
          return;
        }
        handlers.onData(bytes);
      }
    };
    const finish = () => {
      if (this.#closed) return;
      this.#closed = true;
      handlers.onClose();
    };
    socket.onclose = finish;
    socket.onerror = finish;
  }

  get backlogBytes(): number {
    return this.#closed ? 0 : this.#socket.bufferedAmount;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(unit: Uint8Array, _header: UnitHeader | null): void {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(unit);
  }

  close(): void {
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
export function createWebSocketLink(socket: WebSocket, handlers: WebSocketLinkHandlers): Link {
  return new WebSocketLink(socket, handlers);
}
