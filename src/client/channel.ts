/**
 * Client-side carriers for the four `/connect` modes. Each yields downstream
 * blobs (`varint(len) || body` items: plaintext frames during the handshake,
 * Noise units afterwards) and accepts upstream bytes.
 *
 * @module
 */
import { type ConnectMode, decodeBase64 } from "../proto/mod.ts";

/** A bidirectional byte carrier to the server. */
export interface ClientChannel {
  readonly mode: ConnectMode;
  /** Sends upstream bytes. */
  write(bytes: Uint8Array): void;
  /** Downstream chunks, in order; ends when the server closes. */
  readonly chunks: AsyncIterable<Uint8Array>;
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
  /** Reuse an HTTP client (closed by the caller). */
  httpClient?: Deno.HttpClient;
  /** Opens a path of a multipath session (`/connect?attach`) instead of a new session. */
  attach?: boolean;
}

/** Opens a channel to `/connect` in the requested mode. */
export async function openChannel(options: ChannelOptions): Promise<ClientChannel> {
  const base = options.url.replace(/\/+$/, "");
  const path = options.connectPath ?? "/connect";
  const ownClient = options.httpClient === undefined && options.caCerts !== undefined;
  const httpClient = options.httpClient ??
    (options.caCerts ? Deno.createHttpClient({ caCerts: options.caCerts }) : undefined);
  if (options.mode === "websocket") {
    return await openWebSocket(
      `${base.replace(/^http/, "ws")}${path}${options.attach ? "?attach" : ""}`,
      httpClient,
      ownClient,
    );
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
    if (ownClient) httpClient?.close();
    throw error;
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => "");
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
  const chunks = mode === "binary"
    ? body
    : body.pipeThrough(mode === "sse" ? sseDecoder() : ndjsonDecoder());
  return {
    mode,
    write(bytes) {
      if (!closed) controller.enqueue(bytes);
    },
    chunks: {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const chunk of chunks) yield chunk;
        } catch {
          // Reset or aborted: the iteration simply ends.
        } finally {
          if (ownClient) httpClient?.close();
        }
      },
    },
    end: endUpstream,
    close() {
      endUpstream();
      abort.abort();
    },
  };
}

/**
 * Splits a text stream into records ending in `separator` and turns each into
 * base64 data (or nothing) with `dataOf`; emits the decoded bytes.
 */
function base64Records(
  separator: string,
  dataOf: (record: string) => string | undefined,
): TransformStream<Uint8Array, Uint8Array> {
  const text = new TextDecoder();
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += text.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf(separator)) >= 0) {
        const data = dataOf(buffer.slice(0, end));
        buffer = buffer.slice(end + separator.length);
        if (data) controller.enqueue(decodeBase64(data));
      }
    },
  });
}

/** `text/event-stream`: the `data:` lines of each event (comments and keepalives have none). */
function sseDecoder(): TransformStream<Uint8Array, Uint8Array> {
  return base64Records(
    "\n\n",
    (event) =>
      event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join(""),
  );
}

/** NDJSON lines: `data` of each, skipping `{"keepalive":true}`. */
function ndjsonDecoder(): TransformStream<Uint8Array, Uint8Array> {
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
  const finish = () => {
    // onerror and onclose both land here; close the HTTP client once.
    if (ended) return;
    ended = true;
    wake?.();
    if (ownClient) httpClient?.close();
  };
  socket.onmessage = (event) => {
    if (event.data instanceof ArrayBuffer) queue.push(new Uint8Array(event.data));
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
    // A WebSocket close is already graceful: queued messages go out first.
    end: closeSocket,
    close: closeSocket,
  };
}
