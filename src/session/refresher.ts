/**
 * Presence and session refresh for all established connections of a server:
 * two intervals in all instead of two per connection (each a timer and a
 * closure, kept for the connection's life).
 *
 * @module
 */

/** A connection that keeps its presence and session fresh. */
export interface Refreshable {
  refreshPresence(): void;
  refreshSession(): void;
}

/** The TTLs the refresh intervals follow. */
export interface RefreshTtls {
  presenceTtlSeconds: number;
  sessionTtlSeconds: number;
}

/**
 * The intervals run only while there is a connection. A new connection's
 * first refresh comes within half a TTL.
 */
export class Refresher {
  readonly #connections = new Set<Refreshable>();
  readonly #ttls: RefreshTtls;
  #timers: ReturnType<typeof setInterval>[] = [];

  constructor(ttls: RefreshTtls) {
    this.#ttls = ttls;
  }

  /** Starts refreshing `connection`. */
  add(connection: Refreshable): void {
    this.#connections.add(connection);
    if (this.#timers.length > 0) return;
    const d = this.#ttls;
    this.#timers = [
      setInterval(() => {
        for (const c of this.#connections) c.refreshPresence();
      }, Math.max(1, d.presenceTtlSeconds / 2) * 1000),
      setInterval(() => {
        for (const c of this.#connections) c.refreshSession();
      }, Math.max(1, d.sessionTtlSeconds / 2) * 1000),
    ];
  }

  /** Stops refreshing `connection`; the intervals stop with the last one. */
  delete(connection: Refreshable): void {
    if (!this.#connections.delete(connection) || this.#connections.size > 0) return;
    this.stop();
  }

  /** Stops the intervals now (server stop). */
  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }
}
