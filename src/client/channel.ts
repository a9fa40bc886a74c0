/**
 * Client-side carriers for the four `/connect` modes. Each yields downstream
 * blobs (`varint(len) || body` items: plaintext frames during the handshake,
 * Noise units afterwards) and accepts upstream bytes.
 *
 * @module
 */
import { type ConnectMode, decodeBase64 } from "../proto/mod.ts";
import { readChunks } from "../transport/chunk_reader.ts";

/** A bidirectional byte carrier to the server. */
export interface ClientChannel {
  readonly mode: ConnectMode;
  /** Sends upstream bytes. */
  write(bytes: Uint8Array): void;
  /**
   * True when `write` is done with `bytes` once it returns (it copied them,
   * as a WebSocket's `send` does): the client then seals every message in
   * one reused buffer. Absent or false: each write gets bytes of its own,
   * which the channel may keep (a request body's stream does).
   */
  readonly copiesWrites?: boolean;
  /**
   * Downstream chunks, in order; ends when the server closes. Each chunk is
   * handed over: the channel never writes or reuses its bytes afterwards (the
   * client decrypts in place and its frames' payloads are views of them).
   */
  readonly chunks: AsyncIterable<Uint8Array>;
  /**
   * Push mode, where the carrier has one (WebSocket): from this call on, every
   * downstream chunk (handed over, as with `chunks`) goes to `onChunk`
   * synchronously as it arrives, chunks queued before the call first, and
   * `onEnd` is called once when the
   * channel ends; `chunks` is not read after it. It saves the per-chunk
   * promises of the iterator (a load client reads thousands a second).
   */
  listen?(onChunk: (bytes: Uint8Array) => void, onEnd: () => void): void;
  /** Ends the upstream only; what was written still reaches the server, which then closes. */
  end(): void;
  /** Closes both directions at once (unsent upstream bytes may be lost). */
  close(): void;
}

/** How to reach the server. */
export interface ChannelOptions {
  /** Base URL, e.g. `https://localhost:8443`. */
  url: string;
  /** Path of the connect endpoint (default `/connect`). */
  connectPath?: string;
  mode: ConnectMode;
  /** Extra trusted CA certificates (PEM), e.g. the server's self-signed one. */
  caCerts?: string[];
  /**
   * Reuse an HTTP client (closed by the caller). Over HTTPS its binary, SSE and long-poll
   * channels share one HTTP/2 connection: at most {@link MAX_STREAMS_PER_HTTP_CLIENT} of them
   * at once, else {@link HttpClientFullError}.
   */
  httpClient?: Deno.HttpClient;
  /** Opens a path of a multipath session (`/connect?attach`) instead of a new session. */
  attach?: boolean;
  /**
   * Opens the `websocket` mode's channel to this `ws:`/`wss:` URL instead of the platform's
   * `WebSocket` (e.g. the load tool's client with `TCP_NODELAY` on: Deno's leaves Nagle's
   * algorithm on, denoland/deno#35581).
   */
  webSocketChannel?: WebSocketChannelOpener;
}

/** Opens a `websocket`-mode channel to a `ws:`/`wss:` URL another way (see `ChannelOptions`). */
export type WebSocketChannelOpener = (url: string) => Promise<ClientChannel>;

/**
 * Long-lived `/connect` streams (binary, SSE, long-poll) one shared HTTP client may carry at
 * once over HTTPS. They are HTTP/2 streams of the client's one connection, and the server's
 * HTTP stack (hyper, under `Deno.serve`) allows 200 concurrent streams per connection: past
 * that a new stream waits, without error, until one ends, so a session opened then would hang
 * until its handshake timeout (and a multipath path would never attach). This leaves room for
 * the REST requests made on the same client.
 */
export const MAX_STREAMS_PER_HTTP_CLIENT = 128;

/**
 * A channel was asked of a shared HTTP client that already carries
 * {@link MAX_STREAMS_PER_HTTP_CLIENT} long-lived streams. Spread the sessions over more
 * clients (or pass `caCerts` and no `httpClient`: each session then has its own).
 */
export class HttpClientFullError extends Error {
  override name = "HttpClientFullError";
  constructor(readonly streams: number) {
    super(
      `this Deno.HttpClient already carries ${streams} long-lived /connect streams (binary, SSE, ` +
        `long-poll), the most one HTTP/2 connection safely takes (the server allows 200 at once ` +
        `and holds further ones back): spread the sessions over more HTTP clients`,
    );
  }
}

/** Long-lived streams open on each caller-supplied HTTP client (HTTPS only: HTTP/2). */
const streamsOn = new WeakMap<Deno.HttpClient, number>();

/** How many long-lived `/connect` streams the SDK has open on `client` now. */
export function openStreamsOn(client: Deno.HttpClient): number {
  return streamsOn.get(client) ?? 0;
}

/**
 * Takes a stream slot of a shared client for `url` (a no-op off HTTPS, where each stream gets
 * its own HTTP/1.1 connection); returns its release, idempotent. Synchronous, so sessions
 * opened at once cannot all pass the check before any counts.
 */
function takeStreamSlot(client: Deno.HttpClient, url: string): () => void {
  if (!url.startsWith("https:")) return () => {};
  const open = openStreamsOn(client);
  if (open >= MAX_STREAMS_PER_HTTP_CLIENT) throw new HttpClientFullError(open);
  streamsOn.set(client, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    streamsOn.set(client, openStreamsOn(client) - 1);
  };
}

/** Opens a channel to `/connect` in the requested mode. */
export async function openChannel(options: ChannelOptions): Promise<ClientChannel> {
  const base = options.url.replace(/\/+$/, "");
  const path = options.connectPath ?? "/connect";
  const ownClient = options.httpClient === undefined && options.caCerts !== undefined;
  const httpClient = options.httpClient ??
    (options.caCerts ? Deno.createHttpClient({ caCerts: options.caCerts }) : undefined);
  if (options.mode === "websocket") {
    const url = `${base.replace(/^http/, "ws")}${path}${options.attach ? "?attach" : ""}`;
    if (options.webSocketChannel) {
      if (ownClient) httpClient?.close();
      return await options.webSocketChannel(url);
    }
    return await openWebSocket(url, httpClient, ownClient);
  }
  return await openStream(
    `${base}${path}?mode=${options.mode}${options.attach ? "&attach" : ""}`,
    options.mode,
    httpClient,
    ownClient,
  );
}

async function openStream(
  url: string,
  mode: "binary" | "sse" | "long-poll",
  httpClient: Deno.HttpClient | undefined,
  ownClient: boolean,
): Promise<ClientChannel> {
  // A client of our own carries this stream only; a shared one is counted.
  const release = httpClient && !ownClient ? takeStreamSlot(httpClient, url) : () => {};
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const upstream = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
  const abort = new AbortController();
  const init: RequestInit & { client?: Deno.HttpClient; duplex: "half" } = {
    method: "POST",
    body: upstream,
    duplex: "half",
    signal: abort.signal,
    headers: { "content-type": "application/octet-stream" },
  };
  if (httpClient) init.client = httpClient;
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    release();
    if (ownClient) httpClient?.close();
    throw error;
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => "");
    release();
    if (ownClient) httpClient?.close();
    throw new Error(`connect failed: HTTP ${response.status} ${text}`);
  }
  let closed = false;
  const endUpstream = () => {
    if (closed) return;
    closed = true;
    try {
      controller.close();
    } catch { /* already closed */ }
  };
  const body = response.body;
  // Text modes decode their records as they come; binary chunks are the units' bytes.
  const decode = mode === "binary" ? null : mode === "sse" ? sseDecoder() : ndjsonDecoder();
  return {
    mode,
    write(bytes) {
      if (!closed) controller.enqueue(bytes);
    },
    chunks: {
      async *[Symbol.asyncIterator]() {
        try {
          // Exact-size chunks from one reused buffer (chunk_reader.ts: not 64 KiB per chunk).
          for await (const chunk of readChunks(body)) {
            if (decode === null) yield chunk;
            else for (const bytes of decode(chunk)) yield bytes;
          }
        } catch {
          // Reset or aborted: the iteration simply ends.
        } finally {
          release();
          if (ownClient) httpClient?.close();
        }
      },
    },
    end: endUpstream,
    close() {
      endUpstream();
      abort.abort();
      release();
    },
  };
}

/**
 * Splits a text stream into records ending in `separator` and turns each into
 * base64 data (or nothing) with `dataOf`: a function from each chunk to the
 * decoded bytes it completes.
 */
function base64Records(
  separator: string,
  dataOf: (record: string) => string | undefined,
): (chunk: Uint8Array) => Uint8Array[] {
  const text = new TextDecoder();
  let buffer = "";
  return (chunk) => {
    const out: Uint8Array[] = [];
    buffer += text.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf(separator)) >= 0) {
      const data = dataOf(buffer.slice(0, end));
      buffer = buffer.slice(end + separator.length);
      if (data) out.push(decodeBase64(data));
    }
    return out;
  };
}

/** `text/event-stream`: the `data:` lines of each event (comments and keepalives have none). */
function sseDecoder(): (chunk: Uint8Array) => Uint8Array[] {
  return base64Records(
    "\n\n",
    (event) =>
      event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join(""),
  );
}

/** NDJSON lines: `data` of each, skipping `{"keepalive":true}`. */
function ndjsonDecoder(): (chunk: Uint8Array) => Uint8Array[] {
  return base64Records("\n", (line) => {
    if (!line.trim()) return undefined;
    const item = JSON.parse(line) as { data?: unknown };
    return typeof item.data === "string" ? item.data : undefined;
  });
}

async function openWebSocket(
  url: string,
  httpClient: Deno.HttpClient | undefined,
  ownClient: boolean,
): Promise<ClientChannel> {
  const socket = httpClient
    ? new WebSocket(url, { client: httpClient } as unknown as string[])
    : new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const queue: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  // Push mode (`listen`): where chunks and the end go instead of the queue.
  let push: ((bytes: Uint8Array) => void) | null = null;
  let pushEnd: (() => void) | null = null;
  const finish = () => {
    // onerror and onclose both land here; close the HTTP client once.
    if (ended) return;
    ended = true;
    wake?.();
    if (ownClient) httpClient?.close();
    const end = pushEnd;
    pushEnd = null;
    end?.();
  };
  socket.onmessage = (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const bytes = new Uint8Array(event.data);
    if (push !== null) return push(bytes);
    queue.push(bytes);
    wake?.();
  };
  socket.onclose = finish;
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    // The event's message carries the network's reason (reset, TLS, connect error).
    socket.onerror = (event) =>
      reject(new Error(`websocket connect failed: ${(event as ErrorEvent).message ?? "error"}`));
  });
  socket.onerror = finish;
  const closeSocket = () => {
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close();
    }
  };
  return {
    mode: "websocket",
    // send() copies the bytes into the message it queues (WebSocket standard, and Deno's).
    copiesWrites: true,
    write(bytes) {
      // Never a SharedArrayBuffer view here; the DOM typing (web bundle) wants that said.
      if (socket.readyState === WebSocket.OPEN) socket.send(bytes as Uint8Array<ArrayBuffer>);
    },
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
    // A WebSocket close is already graceful: queued messages go out first.
    end: closeSocket,
    close: closeSocket,
  };
}
