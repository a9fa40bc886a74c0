/**
 * A client that stays connected: when the connection drops it reconnects
 * with jittered exponential backoff, and delivered frames keep flowing
 * through one `next()` across reconnects. The server keeps undelivered
 * frames in the device's queue meanwhile, so nothing is lost.
 *
 * @module
 */
import type { DecodedFrame } from "../proto/mod.ts";
import { CommuCatClient } from "./client.ts";
import { type ClientOptions, ServerError } from "./options.ts";

/** Backoff schedule. */
export interface BackoffOptions {
  /** First delay (default 250 ms). */
  initialMs?: number;
  /** Largest delay (default 10 s). */
  maxMs?: number;
  /** Multiplier per failed attempt (default 2). */
  factor?: number;
  /** ± fraction of random jitter (default 0.25), so clients do not reconnect in lockstep. */
  jitter?: number;
  /** Give up after this many consecutive failures (default: never). */
  maxAttempts?: number;
}

/** The delay before attempt `attempt` (0-based), before jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 10_000;
  const factor = options.factor ?? 2;
  return Math.min(max, initial * factor ** attempt);
}

function jittered(ms: number, jitter: number): number {
  return Math.max(0, Math.round(ms * (1 + jitter * (2 * Math.random() - 1))));
}

/** Connects, retrying with backoff; a refusal by the server (Error frame) is not retried. */
export async function connectWithBackoff(
  options: ClientOptions,
  backoff: BackoffOptions = {},
  signal?: AbortSignal,
): Promise<CommuCatClient> {
  for (let attempt = 0;; attempt++) {
    try {
      return await CommuCatClient.connect(options);
    } catch (error) {
      // The server said no (bad key, pairing required…): retrying cannot help.
      if (error instanceof ServerError) throw error;
      if (backoff.maxAttempts !== undefined && attempt + 1 >= backoff.maxAttempts) throw error;
      if (signal?.aborted) throw error;
      const delay = jittered(backoffDelay(attempt, backoff), backoff.jitter ?? 0.25);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Keeps one device connected; `next()` yields delivered frames across reconnects. */
export class ReconnectingClient {
  #options: ClientOptions;
  #backoff: BackoffOptions;
  #current: CommuCatClient | null = null;
  #connecting: Promise<CommuCatClient> | null = null;
  #stopped = false;
  #abort = new AbortController();
  /** How many times a dropped connection was re-established. */
  reconnects = 0;
  /** Called with each new live connection (e.g. to re-join channels). */
  onConnect?: (client: CommuCatClient) => void | Promise<void>;

  constructor(options: ClientOptions, backoff: BackoffOptions = {}) {
    this.#options = options;
    this.#backoff = backoff;
  }

  /** The live connection, connecting (with backoff) when there is none. */
  client(): Promise<CommuCatClient> {
    if (this.#stopped) return Promise.reject(new Error("client stopped"));
    if (this.#current && !this.#current.closed) return Promise.resolve(this.#current);
    this.#connecting ??= (async () => {
      try {
        const client = await connectWithBackoff(this.#options, this.#backoff, this.#abort.signal);
        if (this.#current) this.reconnects++;
        this.#current = client;
        await this.onConnect?.(client);
        return client;
      } finally {
        this.#connecting = null;
      }
    })();
    return this.#connecting;
  }

  /** The next delivered frame; reconnects as needed. Null once stopped. */
  async next(): Promise<DecodedFrame | null> {
    while (!this.#stopped) {
      const client = await this.client().catch((error) => {
        if (this.#stopped) return null;
        throw error;
      });
      if (!client) return null;
      const frame = await client.next();
      if (frame) return frame;
      // The connection ended: loop to reconnect.
    }
    return null;
  }

  /**
   * Sends a message once connected (see {@link CommuCatClient.send}). Not resent by itself: if
   * the connection ends before the server's Ack, this rejects (`connection closed`) and the frame
   * may or may not have been routed — the server does not deduplicate sends, so resending (the
   * next call reconnects) is the caller's choice and may deliver it twice (PROTOCOL.md §4).
   */
  async send(channel: number, message: Uint8Array | string) {
    return (await this.client()).send(channel, message);
  }

  /** Closes the connection and stops reconnecting. */
  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
    this.#current?.close();
  }
}
