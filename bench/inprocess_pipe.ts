/**
 * An in-memory pipe between an SDK client and a real {@link ServerConnection}
 * of a server started in the same process (`bench/inprocess_pairs.ts`,
 * `bench/inprocess_handshakes.ts`): the client's `websocket` channel, no
 * sockets, each write reaching the server as its own message a microtask later.
 *
 * @module
 */
import type { ClientChannel } from "../src/client/channel.ts";
import type { RunningServer } from "../src/server/mod.ts";
import { ServerConnection } from "../src/session/mod.ts";
import type { Link, UnitHeader } from "../src/transport/mod.ts";

/** Downstream bytes for one client, in order. */
export class Downstream implements AsyncIterator<Uint8Array> {
  #queue: Uint8Array[] = [];
  #waiting: ((result: IteratorResult<Uint8Array>) => void) | null = null;
  #ended = false;

  push(bytes: Uint8Array): void {
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting({ value: bytes, done: false });
    } else this.#queue.push(bytes);
  }

  end(): void {
    this.#ended = true;
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = null;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ value: this.#queue.shift()!, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = resolve));
  }
}

/** The server's side of the pipe: a WebSocket-like link (copies what it sends). */
export class PipeLink implements Link {
  readonly mode = "websocket" as const;
  readonly copiesOnSend = true;
  readonly backlogBytes = 0;
  closed = false;
  constructor(readonly down: Downstream) {}
  send(unit: Uint8Array, _header: UnitHeader | null): void {
    if (!this.closed) this.down.push(unit.slice());
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.down.end();
  }
}

/**
 * The client's side of a new pipe into a new server connection (`onConnection`
 * is told of it): each write reaches the server as its own message, a microtask later.
 */
export function pipeChannel(
  server: RunningServer,
  onConnection?: (connection: ServerConnection) => void,
): ClientChannel {
  const down = new Downstream();
  const link = new PipeLink(down);
  const connection = new ServerConnection(link, server.connect.deps, crypto.randomUUID());
  server.connect.track(connection);
  onConnection?.(connection);
  return {
    mode: "websocket",
    // As a WebSocket's send(): the bytes are copied before write returns.
    copiesWrites: true,
    write(bytes) {
      const copy = bytes.slice();
      queueMicrotask(() => void connection.receive(copy));
    },
    chunks: { [Symbol.asyncIterator]: () => down },
    end: () => connection.end(),
    close: () => connection.linkClosed(),
  };
}
