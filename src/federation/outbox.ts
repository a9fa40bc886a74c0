/**
 * The one federation outbox worker (upstream had two that disagreed, §19.17).
 *
 * Entries live in the store (`federation_outbox`), so they survive restarts
 * and are shared by instances on one PostgreSQL. Each tick leases a batch
 * (`claimFederationOutbox`: attempts + 1, invisible to other workers for the
 * lease), POSTs every entry to `<peer endpoint>/federation/events` (signed
 * events: the body has an `event` key) or `…/federation/friend-request`
 * (anything else), and then:
 *
 * - 2xx → removed (delivered; a `duplicate` answer is a delivery too);
 * - 4xx other than 408/425/429 → the peer refused it for good: dead-lettered;
 * - anything else (5xx, timeout, connection refused, TLS) → retried after
 *   `min(5 · 2^(attempts−1), 300)` s, until the entry is `maxAgeMs` old, then
 *   dead-lettered.
 *
 * Dead-lettering removes the entry and writes a ledger record. Bodies are
 * re-signed with a fresh time just before each attempt (`prepare`), so a
 * retry is not refused by the receiver's freshness window; the event id —
 * and so the receiver's replay key — stays the same.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { FederationOutboxRecord, Store } from "../storage/mod.ts";
import type { PeerDirectory } from "./peers.ts";
import { peerUrl } from "./peers.ts";

/** Options of {@link FederationOutbox}. */
export interface OutboxOptions {
  store: Store;
  peers: PeerDirectory;
  log: Logger;
  /** `commucat-federation/<version>`. */
  userAgent: string;
  /** Extra trusted CA certificates (PEM) for peers' TLS. */
  caCerts?: string[];
  /** Rewrites a body just before sending (fresh time and signature). */
  prepare?(payload: string, now: number): string;
  /** Dead letters go here. */
  recordDeadLetter?(entry: FederationOutboxRecord, reason: string): void | Promise<void>;
  onAttempt?(): void;
  onDelivered?(): void;
  newId(context: string): string;
  now?: () => number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Lease of a claimed entry (default 60 s; must exceed the timeout). */
  leaseMs?: number;
  /** Entries per tick (default 16). */
  batch?: number;
  /** Tick interval (default 1 s). */
  intervalMs?: number;
  /** Age after which an undeliverable entry is dead-lettered (default 24 h). */
  maxAgeMs?: number;
}

/** Retry delay after `attempts` failed attempts: `min(5 · 2^(attempts−1), 300)` s. */
export function backoffMs(attempts: number): number {
  return Math.min(5 * 2 ** Math.min(Math.max(attempts - 1, 0), 16), 300) * 1000;
}

/** What an attempt came to. */
type Outcome = { kind: "delivered" } | { kind: "retry" | "refused"; reason: string };

/** The durable outbox and its worker. */
export class FederationOutbox {
  #o: OutboxOptions;
  #now: () => number;
  #client: Deno.HttpClient | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  /** Aborts requests in flight when the server stops (they are retried later). */
  #abort = new AbortController();

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#client = options.caCerts && options.caCerts.length > 0
      ? Deno.createHttpClient({ caCerts: options.caCerts })
      : undefined;
  }

  /** Stores a body for `domain` (durably) and wakes the worker. Throws when the store fails. */
  async enqueue(
    peer: { domain: string; endpoint: string; publicKey: Uint8Array },
    body: string,
    eventId: string,
  ): Promise<string> {
    const now = new Date(this.#now());
    const outboxId = this.#o.newId(`federation:${peer.domain}:${eventId}`);
    await this.#o.store.enqueueFederationOutbox({
      outboxId,
      destinationDomain: peer.domain,
      endpoint: peer.endpoint,
      payload: body,
      publicKey: peer.publicKey,
      nextAttemptAt: now,
      createdAt: now,
    });
    this.kick();
    return outboxId;
  }

  /** Starts the periodic worker. */
  start(): void {
    this.#timer ??= setInterval(() => this.kick(), this.#o.intervalMs ?? 1000);
  }

  /** Runs a tick now (or right after the running one). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.tick().catch((e) =>
          this.#o.log.warn("federation outbox tick failed", { error: String(e) })
        );
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#running = null));
  }

  /** Claims one batch and attempts every entry in it. */
  async tick(): Promise<void> {
    const now = this.#now();
    const batch = await this.#o.store.claimFederationOutbox(
      new Date(now),
      this.#o.leaseMs ?? 60_000,
      this.#o.batch ?? 16,
    );
    await Promise.all(batch.map((entry) => this.#attempt(entry)));
    if (batch.length === (this.#o.batch ?? 16)) this.#again = true;
  }

  /** Stops the worker: aborts requests in flight (kept for a retry) and waits for the tick. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
    this.#client?.close();
  }

  async #attempt(entry: FederationOutboxRecord): Promise<void> {
    this.#o.onAttempt?.();
    const outcome = await this.#send(entry);
    const store = this.#o.store;
    if (outcome.kind === "delivered") {
      await store.completeFederationOutbox(entry.outboxId);
      this.#o.onDelivered?.();
      return;
    }
    const now = this.#now();
    const tooOld = now - entry.createdAt.getTime() >= (this.#o.maxAgeMs ?? 86_400_000);
    if (outcome.kind === "refused" || tooOld) {
      const reason = outcome.kind === "refused" ? outcome.reason : `expired: ${outcome.reason}`;
      await store.completeFederationOutbox(entry.outboxId);
      this.#o.log.warn("federation: dead-lettered an outbox entry", {
        outbox_id: entry.outboxId,
        destination: entry.destinationDomain,
        attempts: entry.attempts,
        reason,
      });
      await this.#o.recordDeadLetter?.(entry, reason);
      return;
    }
    await store.failFederationOutbox(
      entry.outboxId,
      outcome.reason,
      new Date(now + backoffMs(entry.attempts)),
    );
  }

  async #send(entry: FederationOutboxRecord): Promise<Outcome> {
    const peer = await this.#o.peers.get(entry.destinationDomain).catch(() => null);
    if (peer === null) return { kind: "retry", reason: "peer is not active" };
    let body: string;
    let path: "events" | "friend-request";
    try {
      body = this.#o.prepare ? this.#o.prepare(entry.payload, this.#now()) : entry.payload;
      path = "event" in (JSON.parse(body) as Record<string, unknown>) ? "events" : "friend-request";
    } catch (error) {
      return { kind: "refused", reason: `unusable payload: ${(error as Error).message}` };
    }
    try {
      const response = await fetch(peerUrl(peer.endpoint, path), {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": this.#o.userAgent },
        body,
        signal: AbortSignal.any([
          AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
          this.#abort.signal,
        ]),
        client: this.#client,
      });
      const text = await response.text().catch(() => "");
      if (response.ok) return { kind: "delivered" };
      const reason = `HTTP ${response.status}: ${text.slice(0, 200)}`;
      const permanent = response.status >= 400 && response.status < 500 &&
        ![408, 425, 429].includes(response.status);
      return { kind: permanent ? "refused" : "retry", reason };
    } catch (error) {
      return { kind: "retry", reason: (error as Error).message.slice(0, 200) };
    }
  }
}
