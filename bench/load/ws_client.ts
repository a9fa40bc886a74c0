/**
 * A WebSocket client with `TCP_NODELAY` on, for the load tool. Deno's
 * `WebSocket` leaves Nagle's algorithm on for the client socket
 * (denoland/deno#35581): a small send then waits for the ACK of the previous
 * one, adding milliseconds to a measured delivery that are the client's and
 * not the server's (docs/PERFORMANCE.md round 7: p99 4.7–5.8 → 0.9–1.2 ms
 * with it forced off). This client dials with `Deno.connect`, sets
 * `setNoDelay(true)` (a `Deno.TlsConn` has no `setNoDelay`, hence
 * `Deno.startTls` over the TCP connection for `wss:`), does the HTTP/1.1
 * upgrade and speaks RFC 6455 framing (ws_frames.ts).
 *
 * @module
 */
import { encodeBase64 } from "../../src/proto/mod.ts";
import {
  CloseCode,
  closePayload,
  encodeClientFrame,
  FrameReader,
  MaskSource,
  Opcode,
  WebSocketProtocolError,
} from "./ws_frames.ts";

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEADER_BYTES = 16 * 1024;
/** How long a close waits for the server's close before dropping the socket. */
const CLOSE_WAIT_MS = 2_000;

/** Options of {@link connectNoDelayWebSocket}. */
export interface NoDelayOptions {
  /** Extra trusted CA certificates (PEM) for `wss:`. */
  caCerts?: string[];
}

/** How the connection ended. */
export interface CloseInfo {
  /** The server's close code (1006: the connection dropped without a close frame). */
  code: number;
  reason: string;
}

/** The expected `Sec-WebSocket-Accept` for `key` (RFC 6455 section 4.2.2). */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + ACCEPT_GUID),
  );
  return encodeBase64(new Uint8Array(digest));
}

/** Dials `url` (`ws:`/`wss:`) with `TCP_NODELAY` on and completes the upgrade. */
export async function connectNoDelayWebSocket(
  url: string,
  options: NoDelayOptions = {},
): Promise<NoDelayWebSocket> {
  const target = new URL(url);
  const secure = target.protocol === "wss:";
  if (!secure && target.protocol !== "ws:") throw new Error(`not a ws: or wss: URL: ${url}`);
  const port = Number(target.port || (secure ? 443 : 80));
  const tcp = await Deno.connect({ hostname: target.hostname, port });
  let conn: Deno.Conn = tcp;
  try {
    // The socket option outlives the TLS wrapping: it belongs to the file descriptor.
    tcp.setNoDelay(true);
    if (secure) {
      conn = await Deno.startTls(tcp, { hostname: target.hostname, caCerts: options.caCerts });
    }
    const key = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
    const request = `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
      `Host: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    await writeAll(conn, new TextEncoder().encode(request));
    const { head, rest } = await readHead(conn);
    const status = head.slice(0, head.indexOf("\r\n"));
    if (!/^HTTP\/1\.1 101\b/.test(status)) throw new Error(`websocket upgrade refused: ${status}`);
    const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    if (accept !== await acceptFor(key)) throw new Error("websocket upgrade: wrong accept key");
    return new NoDelayWebSocket(conn, rest);
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** Reads the HTTP response head; `rest` is what followed it in the same reads. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let got = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  while (got.length < MAX_HEADER_BYTES) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("websocket upgrade: connection closed");
    const joined = new Uint8Array(got.length + n);
    joined.set(got);
    joined.set(buffer.subarray(0, n), got.length);
    got = joined;
    for (let i = 3; i < got.length; i++) {
      if (got[i] === 10 && got[i - 1] === 13 && got[i - 2] === 10 && got[i - 3] === 13) {
        return {
          head: new TextDecoder().decode(got.subarray(0, i + 1)),
          rest: got.slice(i + 1),
        };
      }
    }
  }
  throw new Error("websocket upgrade: response head too large");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/**
 * An open connection. `send` never blocks: frames sent while a write is in
 * flight go out together in the next write (fewer syscalls under load).
 */
export class NoDelayWebSocket {
  /**
   * Each whole message the server sends (binary or text, as bytes). Messages
   * that came before a handler was set (e.g. with the upgrade's response)
   * are handed to the first one set.
   */
  get onmessage(): ((data: Uint8Array) => void) | null {
    return this.#onmessage;
  }
  set onmessage(handler: ((data: Uint8Array) => void) | null) {
    this.#onmessage = handler;
    while (handler && this.#early.length > 0) handler(this.#early.shift()!);
  }
  /** Resolves once, when the connection is gone. */
  readonly closed: Promise<CloseInfo>;

  #conn: Deno.Conn;
  #onmessage: ((data: Uint8Array) => void) | null = null;
  #early: Uint8Array[] = [];
  #masks = new MaskSource();
  #pending: Uint8Array[] = [];
  #writing = false;
  #closeSent = false;
  #ended = false;
  #resolveClosed!: (info: CloseInfo) => void;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.Conn, early: Uint8Array) {
    this.#conn = conn;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    void this.#readLoop(early);
  }

  /** True until a close was sent or the connection ended. */
  get open(): boolean {
    return !this.#closeSent && !this.#ended;
  }

  /** Sends one binary message; dropped after close. */
  send(data: Uint8Array): void {
    if (!this.open) return;
    this.#queue(encodeClientFrame(Opcode.Binary, data, this.#masks));
  }

  /** Starts the closing handshake; the socket is dropped if the server does not answer. */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (!this.open) return;
    this.#closeSent = true;
    this.#queue(encodeClientFrame(Opcode.Close, closePayload(code, reason), this.#masks));
    this.#closeTimer = setTimeout(
      () => this.#end({ code: 1006, reason: "no close reply" }),
      CLOSE_WAIT_MS,
    );
    // The wait alone keeps no process alive.
    Deno.unrefTimer(this.#closeTimer);
  }

  #queue(frame: Uint8Array): void {
    this.#pending.push(frame);
    if (!this.#writing) void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#pending.length > 0 && !this.#ended) {
        const frames = this.#pending;
        this.#pending = [];
        await writeAll(this.#conn, frames.length === 1 ? frames[0] : join(frames));
      }
    } catch {
      this.#end({ code: 1006, reason: "write failed" });
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(early: Uint8Array): Promise<void> {
    const reader = new FrameReader();
    const buffer = new Uint8Array(64 * 1024);
    try {
      if (early.length > 0 && this.#handle(reader.push(early))) return;
      while (!this.#ended) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        if (this.#handle(reader.push(buffer.subarray(0, n)))) return;
      }
      this.#end({ code: 1006, reason: "connection closed" });
    } catch (error) {
      if (error instanceof WebSocketProtocolError && !this.#ended) {
        this.#failWith(error.code, error.message);
      } else this.#end({ code: 1006, reason: String(error) });
    }
  }

  /** Acts on the events; true once the server closed. */
  #handle(events: ReturnType<FrameReader["push"]>): boolean {
    for (const event of events) {
      if (event.kind === "message") {
        if (this.#onmessage) this.#onmessage(event.data);
        else this.#early.push(event.data);
      } else if (event.kind === "ping") {
        if (this.open) this.#queue(encodeClientFrame(Opcode.Pong, event.data, this.#masks));
      } else if (event.kind === "close") {
        // Echo the code (section 5.5.1) unless we started the close; then drop the socket.
        if (this.open) {
          this.#closeSent = true;
          const echo = event.code === 1005 ? new Uint8Array(0) : closePayload(event.code);
          this.#queue(encodeClientFrame(Opcode.Close, echo, this.#masks));
        }
        this.#afterWrites(() => this.#end({ code: event.code, reason: event.reason }));
        return true;
      }
    }
    return false;
  }

  /** Fails the connection: a close with `code`, then the socket goes. */
  #failWith(code: number, reason: string): void {
    if (this.open) {
      this.#closeSent = true;
      this.#queue(encodeClientFrame(Opcode.Close, closePayload(code, reason), this.#masks));
    }
    this.#afterWrites(() => this.#end({ code, reason }));
  }

  /** Runs `then` once the queued frames are written (or at once if none are). */
  #afterWrites(then: () => void): void {
    const poll = () =>
      !this.#ended && (this.#writing || this.#pending.length > 0) ? setTimeout(poll, 1) : then();
    poll();
  }

  #end(info: CloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#closeTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's reset.
    }
    this.#resolveClosed(info);
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
