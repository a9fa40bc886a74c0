/**
 * Presence in Redis, shared by every instance of a deployment. The key and
 * value follow upstream: `presence:<device>` holds
 * `{"entity","expires_at","state","instance"}` (expires_at in RFC 3339) with
 * a SETEX TTL. While Redis is down every call rejects at once (or after the
 * short command timeout); callers treat presence as best effort.
 *
 * @module
 */
import type { Presence, PresenceEntry } from "./presence.ts";
import { type RedisBackendOptions, RedisConnection } from "./redis_connection.ts";

/** Deletes KEYS[1] only when its JSON `instance` equals ARGV[1]; atomic on the server. */
const CLEAR_IF_OWNER = `
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local ok, entry = pcall(cjson.decode, value)
if ok and type(entry) == 'table' and entry.instance == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** {@link Presence} stored in Redis. */
export class RedisPresence implements Presence {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #now: () => number;

  /** Connects in the background: never throws for an unreachable Redis (only for a malformed URL). */
  constructor(options: RedisBackendOptions, now: () => number = Date.now) {
    this.#connection = new RedisConnection(options, "presence");
    this.#prefix = options.keyPrefix ?? "";
    this.#now = now;
  }

  /** True while Redis answers. */
  get healthy(): boolean {
    return this.#connection.ready;
  }

  #key(deviceId: string): string {
    return `${this.#prefix}presence:${deviceId}`;
  }

  async set(deviceId: string, state: string, instance: string, ttlSeconds: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(Number.isFinite(ttlSeconds) ? ttlSeconds : 1));
    const value = JSON.stringify({
      entity: deviceId,
      expires_at: new Date(this.#now() + ttl * 1000).toISOString(),
      state,
      instance,
    });
    await this.#connection.client.setex(this.#key(deviceId), ttl, value);
  }

  async clear(deviceId: string, instance: string): Promise<void> {
    await this.#connection.client.eval(CLEAR_IF_OWNER, 1, this.#key(deviceId), instance);
  }

  async get(deviceId: string): Promise<PresenceEntry | null> {
    const value = await this.#connection.client.get(this.#key(deviceId));
    if (value === null) return null;
    const entry = parsePresenceValue(deviceId, value);
    if (!entry || entry.expiresAt.getTime() <= this.#now()) return null;
    return entry;
  }

  async getMany(deviceIds: readonly string[]): Promise<(PresenceEntry | null)[]> {
    if (deviceIds.length === 0) return [];
    const values = await this.#connection.client.mget(...deviceIds.map((d) => this.#key(d)));
    const now = this.#now();
    return deviceIds.map((deviceId, i) => {
      const value = values[i];
      const entry = value === null || value === undefined
        ? null
        : parsePresenceValue(deviceId, value);
      return entry && entry.expiresAt.getTime() > now ? entry : null;
    });
  }

  async ping(): Promise<void> {
    const reply = await this.#connection.client.ping();
    if (reply !== "PONG") throw new Error(`unexpected PING reply from Redis`);
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Reads a stored presence value; null when it is not ours to understand
 * (not JSON, missing fields — e.g. written by an upstream server without
 * `instance`).
 */
export function parsePresenceValue(deviceId: string, value: string): PresenceEntry | null {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null) return null;
  const record = data as Record<string, unknown>;
  const { state, instance } = record;
  const expires = record.expires_at;
  if (typeof state !== "string" || typeof instance !== "string" || typeof expires !== "string") {
    return null;
  }
  const expiresAt = new Date(expires);
  if (Number.isNaN(expiresAt.getTime())) return null;
  return { deviceId, state, instance, expiresAt };
}
