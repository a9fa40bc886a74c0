/**
 * Who we federate with: static peers from the configuration
 * (`federation.peers`, always active) merged with `federation_peer` rows.
 * A stored row wins over the configuration: `blocked` (or `pending`) turns
 * a configured peer off, an `active` row adds a peer or replaces its
 * endpoint and key. Only active peers are ever used, in or out.
 *
 * @module
 */
import type { FederationPeerRecord, Store } from "../storage/mod.ts";

/** A peer we may talk to. */
export interface FederationPeer {
  /** Lower-case domain. */
  domain: string;
  /** Base URL, e.g. `https://b.example:8443`; we POST to `<endpoint>/federation/…`. */
  endpoint: string;
  /** The peer's federation (device CA) Ed25519 public key. */
  publicKey: Uint8Array;
  /** Where the entry came from. */
  source: "config" | "store";
}

/** Resolves peers from the configuration and the store. */
export class PeerDirectory {
  #store: Store;
  #configured = new Map<string, FederationPeer>();

  constructor(
    store: Store,
    configured: { domain: string; endpoint: string; publicKey: Uint8Array }[],
  ) {
    this.#store = store;
    for (const p of configured) {
      const domain = p.domain.toLowerCase();
      this.#configured.set(domain, { ...p, domain, source: "config" });
    }
  }

  /** The active peer of `domain`, or null (unknown, pending or blocked). */
  async get(domain: string): Promise<FederationPeer | null> {
    const key = domain.trim().toLowerCase();
    const row = await this.#store.getFederationPeer(key);
    if (row !== null) return row.status === "active" ? fromRow(row) : null;
    return this.#configured.get(key) ?? null;
  }

  /** Every active peer (configured and stored), by domain. */
  async list(): Promise<FederationPeer[]> {
    const out = new Map(this.#configured);
    for (const row of await this.#store.listFederationPeers()) {
      if (row.status === "active") out.set(row.domain, fromRow(row));
      else out.delete(row.domain);
    }
    return [...out.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1));
  }
}

function fromRow(row: FederationPeerRecord): FederationPeer {
  return {
    domain: row.domain,
    endpoint: row.endpoint,
    publicKey: row.publicKey,
    source: "store",
  };
}

/** `<base>/federation/<path>` with exactly one slash between. */
export function peerUrl(endpoint: string, path: "events" | "friend-request"): string {
  return `${endpoint.replace(/\/+$/, "")}/federation/${path}`;
}
