/**
 * Links for the three HTTP streaming modes (binary, SSE, NDJSON long-poll):
 * the response body is a byte stream the link writes units into.
 *
 * @module
 */
import { encodeBase64 } from "../proto/mod.ts";
import type { Link, UnitHeader } from "./link.ts";

const encoder = new TextEncoder();

/** Options for {@link createStreamLink}. */
export interface StreamLinkOptions {
  mode: "binary" | "sse" | "long-poll";
  /** Idle keepalive period for SSE / long-poll in ms (0 = none). */
  keepaliveMs: number;
  /** Called once when the peer stops reading (cancel) or the link closes. */
  onClose: () => void;
}

/** Response headers common to every streaming mode. */
export function streamHeaders(mode: "binary" | "sse" | "long-poll"): Headers {
  const contentType = mode === "binary"
    ? "application/octet-stream"
    : mode === "sse"
    ? "text/event-stream"
    : "application/x-ndjson";
  const headers = new Headers({
    "content-type": contentType,
    "cache-control": "no-store",
    "x-commucat-connect-mode": mode,
  });
  if (mode === "sse") headers.set("x-accel-buffering", "no");
  return headers;
}

class StreamLink implements Link {
  readonly mode: "binary" | "sse" | "long-poll";
  readonly body: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #closed = false;
  #unitCounter = 0;
  #lastWrite = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #onClose: () => void;

  constructor(options: StreamLinkOptions) {
    this.mode = options.mode;
    this.#onClose = options.onClose;
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      cancel: () => this.#finish(false),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 1 }));
    if (this.mode === "sse") this.#write(encoder.encode(":ready\n\n"));
    if (options.keepaliveMs > 0 && this.mode !== "binary") {
      const beat = this.mode === "sse" ? ":keepalive\n\n" : '{"keepalive":true}\n';
      this.#timer = setInterval(() => {
        if (Date.now() - this.#lastWrite >= options.keepaliveMs) this.#write(encoder.encode(beat));
      }, Math.min(options.keepaliveMs, 1000));
    }
  }

  get backlogBytes(): number {
    if (this.#closed) return 0;
    // desiredSize = highWaterMark (1) - bytes queued and not yet read.
    return Math.max(0, 1 - (this.#controller.desiredSize ?? 1));
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(unit: Uint8Array, header: UnitHeader | null): void {
    if (this.#closed) return;
    switch (this.mode) {
      case "binary":
        this.#write(unit);
        break;
      case "sse": {
        const id = ++this.#unitCounter;
        this.#write(encoder.encode(`event: frame\nid: ${id}\ndata: ${encodeBase64(unit)}\n\n`));
        break;
      }
      case "long-poll": {
        const line = header
          ? {
            channel: header.channel,
            data: encodeBase64(unit),
            sequence: header.sequence,
            type: header.type,
          }
          : { data: encodeBase64(unit) };
        this.#write(encoder.encode(JSON.stringify(line) + "\n"));
        break;
      }
    }
  }

  #write(bytes: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#controller.enqueue(bytes);
      this.#lastWrite = Date.now();
    } catch {
      this.#finish(false);
    }
  }

  close(): void {
    this.#finish(true);
  }

  #finish(closeStream: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (closeStream) {
      try {
        this.#controller.close();
      } catch { /* already closed or errored */ }
    }
    this.#onClose();
  }
}

/** Creates a streaming link; `body` becomes the HTTP response body. */
export function createStreamLink(options: StreamLinkOptions): Link & {
  body: ReadableStream<Uint8Array>;
} {
  return new StreamLink(options);
}
