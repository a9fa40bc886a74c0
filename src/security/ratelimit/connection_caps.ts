/**
 * Caps on open connections, checked as a socket is accepted (before any TLS
 * work): at most `maxTotal` in all and `maxPerClient` per client key. Past a
 * cap the socket is refused at once — never queued — so descriptors stay
 * below the process limit and one address cannot take them all.
 *
 * @module
 */

/** Why a connection was refused. */
export type ConnectionRefusal = "total" | "per_client";

/** Counters of {@linkcode ConnectionCaps}. */
export interface ConnectionCapsStats {
  readonly open: number;
  readonly clients: number;
  readonly refusedTotal: number;
  readonly refusedPerClient: number;
}

/** Gives a ticket's slot back to its caps (module-private: only a ticket's release does it). */
let closeTicket: (caps: ConnectionCaps, client: string) => void;

/**
 * Counts open connections in all and per client key.
 *
 * @example
 * ```ts
 * const caps = new ConnectionCaps({ maxTotal: 1000, maxPerClient: 32 });
 * const admitted = caps.open(rateLimitKey(ip));
 * if (typeof admitted === "string") conn.close(); // "total" or "per_client"
 * else served.finished.then(admitted); // the release function
 * ```
 */
export class ConnectionCaps {
  readonly maxTotal: number;
  readonly maxPerClient: number;
  readonly #perClient = new Map<string, number>();
  #open = 0;
  #refusedTotal = 0;
  #refusedPerClient = 0;

  constructor(limits: { maxTotal: number; maxPerClient: number }) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`connection caps: ${name} must be an integer ≥ 1, got ${value}`);
      }
    }
    this.maxTotal = limits.maxTotal;
    this.maxPerClient = limits.maxPerClient;
  }

  /** Opens a connection for `client`: a release function (idempotent), or why it is refused. */
  open(client: string): (() => void) | ConnectionRefusal {
    const ticket = this.admit(client);
    return typeof ticket === "string" ? ticket : () => ticket.release();
  }

  /**
   * Opens a connection for `client` like {@link open}, as a
   * {@link ConnectionTicket} instead of a release function: one small object
   * where a closure and its context were held per open connection (the
   * direct accept mode holds one per idle WebSocket session).
   */
  admit(client: string): ConnectionTicket | ConnectionRefusal {
    if (this.#open >= this.maxTotal) {
      this.#refusedTotal++;
      return "total";
    }
    const mine = this.#perClient.get(client) ?? 0;
    if (mine >= this.maxPerClient) {
      this.#refusedPerClient++;
      return "per_client";
    }
    this.#open++;
    this.#perClient.set(client, mine + 1);
    return new ConnectionTicket(this, client);
  }

  /** A ticket of `client` was released (once). */
  #close(client: string): void {
    this.#open--;
    const left = (this.#perClient.get(client) ?? 1) - 1;
    if (left === 0) this.#perClient.delete(client);
    else this.#perClient.set(client, left);
  }

  static {
    closeTicket = (caps, client) => caps.#close(client);
  }

  /** Counters now. */
  stats(): ConnectionCapsStats {
    return {
      open: this.#open,
      clients: this.#perClient.size,
      refusedTotal: this.#refusedTotal,
      refusedPerClient: this.#refusedPerClient,
    };
  }
}

/** One open connection of {@link ConnectionCaps.admit}: its slot until {@link release}. */
export class ConnectionTicket {
  #caps: ConnectionCaps | null;
  readonly #client: string;

  constructor(caps: ConnectionCaps, client: string) {
    this.#caps = caps;
    this.#client = client;
  }

  /** Gives the slot back (idempotent). */
  release(): void {
    const caps = this.#caps;
    if (caps === null) return;
    this.#caps = null;
    closeTicket(caps, this.#client);
  }
}
