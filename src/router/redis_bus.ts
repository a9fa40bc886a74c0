/**
 * The cross-instance {@link Bus} over Redis pub/sub. Each instance listens on
 * `commucat:bus:<instance>` (direct notices) and `commucat:bus:all`
 * (broadcasts), over a connection of its own (a subscribed Redis connection
 * takes no other commands); publishing uses a second connection.
 *
 * Losing a notice is allowed by design (the durable offline queue and the
 * periodic look at it catch up), so while Redis is down `send`/`broadcast` resolve at
 * once and count the drop instead of queueing in memory; `healthy` is false
 * until both connections are back and the subscription is renewed.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type Logger, silentLogger } from "../log/mod.ts";
import type { Bus, BusMessage, KeptCopyRef, QueueNotice } from "./bus.ts";
import { BINARY_BUS_MESSAGE, decodeHeldCopies, encodeHeldCopies } from "./bus_binary.ts";
import { RedisPresence } from "./redis_presence.ts";
import {
  describeRedisError,
  type RedisBackendOptions,
  RedisConnection,
} from "./redis_connection.ts";

/** Options of {@link RedisBus}. */
export interface RedisBusOptions extends RedisBackendOptions {
  /** Larger messages are dropped on send and ignored on receipt (default 4 MiB). */
  maxMessageBytes?: number;
}

/** Counters of a {@link RedisBus}. */
export interface RedisBusStats {
  published: number;
  received: number;
  /** Messages not published (Redis down, timeout, too large). */
  dropped: number;
  /** Received messages ignored as malformed. */
  malformed: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** {@link Bus} over Redis pub/sub; see the module doc. */
export class RedisBus implements Bus {
  /** Running counters (for metrics). */
  readonly stats: RedisBusStats = { published: 0, received: 0, dropped: 0, malformed: 0 };
  readonly #publisher: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #maxBytes: number;
  #instance: string | null = null;
  /** The channels of {@link #instance} (direct, broadcast); none before `subscribe`. */
  #wanted: string[] = [];
  #handler: ((message: BusMessage) => void) | null = null;
  /** Channels confirmed on the current subscriber connection. */
  #subscribed: string[] = [];
  /** Bumped on every (re)connection of the subscriber, so a late reply cannot claim a newer one. */
  #generation = 0;
  #dropping = false;
  #closed = false;

  /** Connects in the background: never throws for an unreachable Redis (only for a malformed URL). */
  constructor(options: RedisBusOptions) {
    this.#prefix = options.keyPrefix ?? "";
    this.#log = options.logger ?? silentLogger;
    this.#maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.#publisher = new RedisConnection(options, "bus-publisher");
    this.#subscriber = new RedisConnection(options, "bus-subscriber", {
      onReady: () => {
        this.#generation++;
        this.#subscribed = [];
        this.#renewSubscription();
      },
      onDown: () => {
        this.#subscribed = [];
      },
      onMessage: (channel, raw) => this.#receive(channel, raw),
    });
  }

  /** The channel of one instance's direct notices. */
  channelOf(instance: string): string {
    return `${this.#prefix}commucat:bus:${instance}`;
  }

  /** The broadcast channel. */
  get broadcastChannel(): string {
    return `${this.#prefix}commucat:bus:all`;
  }

  get healthy(): boolean {
    if (!this.#publisher.ready || !this.#subscriber.ready) return false;
    return this.#instance === null || this.#subscribed.length === 2;
  }

  send(instance: string, message: BusMessage): Promise<void> {
    return this.#publish(this.channelOf(instance), message);
  }

  broadcast(message: BusMessage): Promise<void> {
    return this.#publish(this.broadcastChannel, message);
  }

  async subscribe(instance: string, handler: (message: BusMessage) => void): Promise<void> {
    const previous = this.#subscribed;
    this.#instance = instance;
    this.#wanted = [this.channelOf(instance), this.broadcastChannel];
    this.#handler = handler;
    if (!this.#subscriber.ready) return; // subscribes when the connection comes up
    const wanted = this.#wantedChannels();
    const stale = previous.filter((c) => !wanted.includes(c));
    if (stale.length > 0) {
      // Safe to ignore: a failed UNSUBSCRIBE means the connection is gone, and
      // the next connection subscribes to the wanted channels only.
      await this.#subscriber.client.unsubscribe(...stale).catch(() => {});
    }
    await this.#subscribeNow();
  }

  async ping(): Promise<void> {
    if (!this.healthy) throw new Error("Redis bus is not connected");
    const reply = await this.#publisher.client.ping();
    if (reply !== "PONG") throw new Error("unexpected PING reply from Redis");
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handler = null;
    await Promise.all([this.#publisher.close(), this.#subscriber.close()]);
  }

  /** Made once per subscribe: checked for every message received. */
  #wantedChannels(): string[] {
    return this.#wanted;
  }

  #renewSubscription(): void {
    if (this.#instance === null) return;
    // #subscribeNow logs its own failure and never rejects; this only keeps
    // a future change from turning into an unhandled rejection.
    this.#subscribeNow().catch(() => {});
  }

  /** Subscribes the current connection; resolves (logging) when that fails, the next connection retries. */
  async #subscribeNow(): Promise<void> {
    const channels = this.#wantedChannels();
    const generation = this.#generation;
    try {
      await this.#subscriber.client.subscribe(...channels);
    } catch (error) {
      this.#log.warn("redis bus subscription failed; retrying on reconnection", {
        error: describeRedisError(error),
      });
      // A connection that is up but refused SUBSCRIBE would otherwise stay unhealthy.
      if (this.#subscriber.ready && generation === this.#generation) {
        this.#subscriber.client.disconnect(true);
      }
      return;
    }
    if (generation === this.#generation && this.#subscriber.ready) this.#subscribed = channels;
  }

  async #publish(channel: string, message: BusMessage): Promise<void> {
    if (this.#closed) return;
    let body: string | Buffer;
    if (message.kind === "held-copies") {
      // Bytes, not JSON (bus_binary.ts): a Buffer over the same memory, no copy.
      const bytes = encodeHeldCopies(message);
      body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else body = JSON.stringify(message);
    if (
      body.length > this.#maxBytes / 3 &&
      (typeof body === "string" ? encoder.encode(body) : body).length > this.#maxBytes
    ) {
      this.stats.dropped++;
      this.#log.warn("redis bus message too large; dropped", { kind: message.kind });
      return;
    }
    if (!this.#publisher.ready) {
      this.#drop("redis bus unavailable; dropping notices until it recovers");
      return;
    }
    try {
      await this.#publisher.client.publish(channel, body);
    } catch (error) {
      this.#drop("redis bus publish failed; dropping notices until it recovers", error);
      return;
    }
    this.stats.published++;
    if (this.#dropping) {
      this.#dropping = false;
      this.#log.info("redis bus publishing again", { dropped: this.stats.dropped });
    }
  }

  #drop(message: string, error?: unknown): void {
    this.stats.dropped++;
    if (this.#dropping) return;
    this.#dropping = true;
    this.#log.warn(message, error === undefined ? {} : { error: describeRedisError(error) });
  }

  #receive(channel: string, raw: Uint8Array): void {
    const handler = this.#handler;
    if (!handler || !this.#wantedChannels().includes(channel)) return;
    let message: BusMessage | null = null;
    if (raw.length > this.#maxBytes) message = null;
    else if (raw[0] === BINARY_BUS_MESSAGE) {
      // Copied once: the frames are views that outlive this turn, and the
      // client's read buffer is not ours to keep.
      message = decodeHeldCopies(new Uint8Array(raw)); // (a Buffer's slice() would be a view)
    } else message = parseBusMessage(decoder.decode(raw));
    if (!message) {
      this.stats.malformed++;
      this.#log.debug("ignored a malformed redis bus message", { bytes: raw.length });
      return;
    }
    this.stats.received++;
    try {
      handler(message);
    } catch (error) {
      this.#log.error("redis bus handler failed", {
        kind: message.kind,
        error: describeRedisError(error),
      });
    }
  }
}

/** Presence and bus of one instance, both on the same Redis. */
export interface RedisBackends {
  presence: RedisPresence;
  bus: RedisBus;
  /** Closes both. */
  close(): Promise<void>;
}

/**
 * Creates the Redis presence and bus over the same settings. Never throws
 * for an unreachable Redis: both start degraded and recover by themselves.
 * Throws a TypeError only for a malformed URL.
 */
export function connectRedis(
  url: string,
  options: Omit<RedisBusOptions, "url"> = {},
): RedisBackends {
  const presence = new RedisPresence({ ...options, url });
  let bus: RedisBus;
  try {
    bus = new RedisBus({ ...options, url });
  } catch (error) {
    // The bus failure is what the caller must see; closing the half-built presence is best effort.
    presence.close().catch(() => {});
    throw error;
  }
  return {
    presence,
    bus,
    close: async () => {
      await Promise.all([presence.close(), bus.close()]);
    },
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Rows accepted in one `offline-queue-rows` message (senders cut at 256). */
const MAX_PARSED_ROWS = 4096;

/** One offline-queue notice; null without a device. A malformed carried frame leaves the plain notice. */
function parseQueueNotice(m: Record<string, unknown>): QueueNotice | null {
  const text = (v: unknown): v is string => typeof v === "string" && v.length > 0;
  if (!text(m.deviceId)) return null;
  // A carried frame needs both halves; a malformed one falls back to the plain notice.
  if (
    text(m.envelopeId) && typeof m.frame === "string" && m.frame.length % 4 === 0 &&
    BASE64.test(m.frame)
  ) {
    return text(m.origin)
      ? { deviceId: m.deviceId, envelopeId: m.envelopeId, frame: m.frame, origin: m.origin }
      : { deviceId: m.deviceId, envelopeId: m.envelopeId, frame: m.frame };
  }
  // A held copy without its frame cannot be delivered: its origin writes it at the window's end.
  return { deviceId: m.deviceId };
}

/** The copy references of a `kept-copies` list; null when malformed. */
function parseCopyRefs(list: unknown): KeptCopyRef[] | null {
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.length > MAX_PARSED_ROWS) return null;
  const refs: KeptCopyRef[] = [];
  for (const item of list) {
    const r = item as Record<string, unknown> | null;
    if (
      typeof r !== "object" || r === null || typeof r.deviceId !== "string" ||
      typeof r.envelopeId !== "string" || r.deviceId === "" || r.envelopeId === ""
    ) return null;
    refs.push({ deviceId: r.deviceId, envelopeId: r.envelopeId });
  }
  return refs;
}

/** Validates a received bus message; null for anything malformed. Unknown fields are dropped. */
export function parseBusMessage(raw: string): BusMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const m = data as Record<string, unknown>;
  const text = (v: unknown): v is string => typeof v === "string" && v.length > 0;
  switch (m.kind) {
    case "offline-queue":
    case "inbox": { // the name older instances send
      const notice = parseQueueNotice(m);
      return notice === null ? null : { kind: "offline-queue", ...notice };
    }
    case "offline-queue-rows": {
      if (!Array.isArray(m.rows) || m.rows.length === 0 || m.rows.length > MAX_PARSED_ROWS) {
        return null;
      }
      const rows: QueueNotice[] = [];
      for (const row of m.rows) {
        const notice = typeof row === "object" && row !== null
          ? parseQueueNotice(row as Record<string, unknown>)
          : null;
        if (notice !== null) rows.push(notice); // a malformed row alone is skipped
      }
      return rows.length === 0 ? null : { kind: "offline-queue-rows", rows };
    }
    case "kept-copies": {
      const acked = parseCopyRefs(m.acked);
      const released = parseCopyRefs(m.released);
      if (acked === null || released === null || acked.length + released.length === 0) return null;
      return { kind: "kept-copies", acked, released };
    }
    case "frame":
      return text(m.deviceId) && typeof m.frame === "string" && m.frame.length % 4 === 0 &&
          BASE64.test(m.frame)
        ? { kind: "frame", deviceId: m.deviceId, frame: m.frame }
        : null;
    case "route":
      return Number.isSafeInteger(m.channel) && (m.channel as number) >= 0 && text(m.from)
        ? { kind: "route", channel: m.channel as number, from: m.from }
        : null;
    case "reachability":
      return { kind: "reachability" };
    case "kick":
      // An empty connection id closes every connection of the device (revocation).
      if (!text(m.deviceId) || typeof m.connectionId !== "string") return null;
      if (m.reason === "revoked") {
        return {
          kind: "kick",
          deviceId: m.deviceId,
          connectionId: m.connectionId,
          reason: "revoked",
        };
      }
      return { kind: "kick", deviceId: m.deviceId, connectionId: m.connectionId };
    default:
      return null;
  }
}
