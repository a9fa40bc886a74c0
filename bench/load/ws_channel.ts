/**
 * The SDK's `websocket`-mode channel over the load tool's TCP_NODELAY
 * client (ws_client.ts), for `ClientOptions.webSocketChannel`.
 *
 * @module
 */
import type { ClientChannel, WebSocketChannelOpener } from "../../src/client/channel.ts";
import { connectNoDelayWebSocket } from "./ws_client.ts";

/** An opener of channels that trust `caCerts` (PEM) for `wss:`. */
export function noDelayChannelOpener(caCerts?: string[]): WebSocketChannelOpener {
  return async (url) => {
    const socket = await connectNoDelayWebSocket(url, { caCerts });
    const queue: Uint8Array[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    // Push mode (`listen`): where chunks and the end go instead of the queue.
    let push: ((bytes: Uint8Array) => void) | null = null;
    let pushEnd: (() => void) | null = null;
    socket.onmessage = (data) => {
      if (push !== null) return push(data);
      queue.push(data);
      wake?.();
    };
    void socket.closed.then(() => {
      ended = true;
      wake?.();
      const end = pushEnd;
      pushEnd = null;
      end?.();
    });
    const channel: ClientChannel = {
      mode: "websocket",
      // send() encodes the bytes into a masked frame of their own before it returns.
      copiesWrites: true,
      write: (bytes) => socket.send(bytes),
      chunks: {
        async *[Symbol.asyncIterator]() {
          while (true) {
            if (queue.length > 0) {
              yield queue.shift()!;
              continue;
            }
            if (ended) return;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = null;
          }
        },
      },
      listen(onChunk, onEnd) {
        while (queue.length > 0) onChunk(queue.shift()!);
        push = onChunk;
        if (ended) onEnd();
        else pushEnd = onEnd;
      },
      // A close frame goes after what was sent, as with the platform's WebSocket.
      end: () => socket.close(),
      close: () => socket.close(),
    };
    return channel;
  };
}
