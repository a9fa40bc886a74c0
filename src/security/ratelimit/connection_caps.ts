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
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left === 0) this.#perClient.delete(client);
      else this.#perClient.set(client, left);
    };
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
