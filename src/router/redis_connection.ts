/**
 * One Redis connection as the Redis-backed presence and bus use it: never
 * throws at start, never queues commands while down (they fail at once, or
 * after a short command timeout), and reconnects by itself with exponential
 * backoff capped at 5 s. State changes are logged once per outage, with the
 * URL's credentials left out.
 *
 * @module
 */
import process from "node:process";
import type { Redis } from "ioredis";
import { type Logger, silentLogger } from "../log/mod.ts";

// Loaded on first use, not at import: a deployment without Redis must not pay for it.
let ioredis: Promise<{ Redis: typeof Redis }> | null = null;

/**
 * Imports ioredis so that it works under `--allow-env=COMMUCAT_*,…`: its
 * `debug` dependency lists the whole environment once when it loads
 * (`Object.keys(process.env)`, for its DEBUG_* options), which Deno allows only
 * with an unrestricted --allow-env. During the import `process.env` is a view
 * that lists no names but still reads each named variable (permission-checked
 * as usual), so nothing else that reads it meanwhile sees a difference.
 */
async function importIoredis(): Promise<{ Redis: typeof Redis }> {
  const descriptor = Object.getOwnPropertyDescriptor(process, "env");
  if (!descriptor || !descriptor.configurable) return await import("ioredis");
  const env = process.env;
  // A plain target: the proxy invariants never consult the real environment's keys.
  const unlisted = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => typeof name === "string" ? env[name] : undefined,
    has: (_target, name) => typeof name === "string" && env[name] !== undefined,
    set: (_target, name, value) => {
      if (typeof name === "string") env[name] = value;
      return true;
    },
    ownKeys: () => [],
  });
  Object.defineProperty(process, "env", { ...descriptor, value: unlisted });
  try {
    return await import("ioredis");
  } finally {
    Object.defineProperty(process, "env", descriptor);
  }
}

/** Options shared by {@link RedisPresence} and {@link RedisBus}. */
export interface RedisBackendOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…`. */
  url: string;
  /** Prepended to every key and channel (default none: keys are `presence:<device>`). */
  keyPrefix?: string;
  logger?: Logger;
  /** A command without a reply after this long fails (default 1000 ms). */
  commandTimeoutMs?: number;
  /** A connection attempt gives up after this long (default 2000 ms). */
  connectTimeoutMs?: number;
}

/** The longest wait between two reconnection attempts. */
export const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * Delay before reconnection attempt `attempt` (1, 2, …): 100 ms doubling,
 * up to 10 % jitter, never above {@link MAX_RECONNECT_DELAY_MS}.
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = 100 * 2 ** Math.min(Math.max(attempt, 1) - 1, 16);
  return Math.min(MAX_RECONNECT_DELAY_MS, Math.round(base * (1 + 0.1 * random())));
}

/** The URL without credentials, for logs. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/** Throws a TypeError (without echoing the URL, which may hold a password) unless `url` is a Redis URL. */
export function checkRedisUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError("invalid Redis URL (expected redis://host:port or rediss://host:port)");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `invalid Redis URL scheme "${parsed.protocol}" (expected redis: or rediss:)`,
    );
  }
  if (parsed.hostname === "") throw new TypeError("invalid Redis URL: no host");
}

/** Events a {@link RedisConnection} reports to its owner. */
export interface RedisConnectionHooks {
  /** The connection is ready for commands (first time or after a reconnection). */
  onReady?(): void;
  /** The connection was lost (or could not be made). */
  onDown?(): void;
  /**
   * A pub/sub message arrived (subscriber connections), as the bytes Redis
   * sent: binary messages are never turned into a string.
   */
  onMessage?(channel: string, message: Uint8Array): void;
}

/** A self-healing ioredis client; see the module doc. */
export class RedisConnection {
  readonly #log: Logger;
  readonly #context: Record<string, unknown>;
  #client: Redis | null = null;
  #loadError: Error | null = null;
  #down = false;
  #everReady = false;
  #closed = false;
  /** Settles once the client exists (or could not be created). */
  readonly #created: Promise<void>;

  /** Starts connecting in the background; throws only for a malformed URL. */
  constructor(options: RedisBackendOptions, role: string, hooks: RedisConnectionHooks = {}) {
    checkRedisUrl(options.url);
    this.#log = options.logger ?? silentLogger;
    this.#context = { redis: describeRedisUrl(options.url), role };
    this.#created = (ioredis ??= importIoredis()).then(
      ({ Redis }) => {
        if (this.#closed) return;
        this.#client = this.#open(Redis, options, role, hooks);
      },
      (error: unknown) => {
        this.#loadError = new Error(
          `the Redis client (ioredis) could not load: ${describeRedisError(error)}`,
        );
        this.#log.error("redis client could not load", {
          ...this.#context,
          reason: describeRedisError(error),
        });
      },
    );
  }

  #open(
    RedisClient: typeof Redis,
    options: RedisBackendOptions,
    role: string,
    hooks: RedisConnectionHooks,
  ): Redis {
    const client = new RedisClient(options.url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 1_000,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      retryStrategy: (attempt) => reconnectDelayMs(attempt),
      connectionName: `commucat-${role}`,
    });
    client.on("ready", () => {
      if (this.#down || !this.#everReady) {
        this.#log.info(this.#everReady ? "redis reconnected" : "redis connected", this.#context);
      }
      this.#down = false;
      this.#everReady = true;
      hooks.onReady?.();
    });
    client.on("error", (error: unknown) => {
      if (client.status === "ready") {
        this.#log.warn("redis error", { ...this.#context, reason: describeRedisError(error) });
      } else {
        this.#markDown(error);
      }
    });
    client.on("close", () => {
      if (this.#closed) return;
      this.#markDown(null);
      hooks.onDown?.();
    });
    const onMessage = hooks.onMessage;
    if (onMessage) {
      client.on(
        "messageBuffer",
        (channel: Uint8Array, message: Uint8Array) => onMessage(channelText(channel), message),
      );
    }
    return client;
  }

  /**
   * The ioredis client, for commands (which fail at once while not
   * {@link ready}). Throws while the client library is still loading or
   * could not load.
   */
  get client(): Redis {
    if (this.#client) return this.#client;
    throw this.#loadError ?? new Error("Redis is not connected yet");
  }

  /** True while commands can be sent. */
  get ready(): boolean {
    return this.#client?.status === "ready";
  }

  #markDown(error: unknown): void {
    if (this.#closed) return;
    const reason = error === null ? "connection closed" : describeRedisError(error);
    if (!this.#down) {
      this.#down = true;
      this.#log.warn("redis unavailable; reconnecting with backoff", {
        ...this.#context,
        reason,
      });
    } else {
      this.#log.debug("redis still unavailable", { ...this.#context, reason });
    }
  }

  /** Closes the connection for good (stops reconnecting). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#created;
    const client = this.#client;
    if (!client || client.status === "end") return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = new Promise<void>((resolve) => {
      client.once("end", () => resolve());
      // Without a live socket ioredis may never report "end".
      timer = setTimeout(resolve, 1_000);
    });
    client.disconnect();
    await ended;
    clearTimeout(timer);
  }
}

const utf8 = new TextDecoder();

/** A channel name as Redis sent it, as a string (one per bus message, not per frame). */
function channelText(channel: Uint8Array | string): string {
  return typeof channel === "string" ? channel : utf8.decode(channel);
}

/** Message of an error, for logs. */
export function describeRedisError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
