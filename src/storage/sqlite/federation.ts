/**
 * Federation tables on SQLite: peers and the durable outbox. Plain
 * functions over the open database so sqlite.ts stays a thin class.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { blob, date, int, ms, type Row, StoreCorruptionError, text, textOrNull } from "./rows.ts";
import type {
  FederationOutboxRecord,
  FederationPeerRecord,
  FederationPeerStatus,
} from "../store.ts";
import { oldestFirst } from "../domain_store.ts";

const PEER_STATUSES: readonly string[] = ["active", "pending", "blocked"];

function toPeer(row: Row): FederationPeerRecord {
  const status = text(row, "status");
  if (!PEER_STATUSES.includes(status)) {
    throw new StoreCorruptionError("column status: expected a federation peer status");
  }
  return {
    domain: text(row, "domain"),
    endpoint: text(row, "endpoint"),
    publicKey: blob(row, "public_key"),
    status: status as FederationPeerStatus,
    updatedAt: date(row, "updated_at"),
  };
}

function toOutbox(row: Row): FederationOutboxRecord {
  return {
    outboxId: text(row, "outbox_id"),
    destinationDomain: text(row, "destination_domain"),
    endpoint: text(row, "endpoint"),
    payload: text(row, "payload"),
    publicKey: blob(row, "public_key"),
    attempts: int(row, "attempts"),
    nextAttemptAt: date(row, "next_attempt_at"),
    lastError: textOrNull(row, "last_error"),
    createdAt: date(row, "created_at"),
  };
}

/** Federation statements of the SQLite store. */
export const sqliteFederation = {
  listPeers(db: DatabaseSync): FederationPeerRecord[] {
    return db.prepare("SELECT * FROM federation_peer ORDER BY domain").all().map(toPeer);
  },
  getPeer(db: DatabaseSync, domain: string): FederationPeerRecord | null {
    const row = db.prepare("SELECT * FROM federation_peer WHERE domain = ?").get(domain);
    return row === undefined ? null : toPeer(row);
  },
  upsertPeer(db: DatabaseSync, peer: FederationPeerRecord): void {
    db.prepare(
      `INSERT INTO federation_peer (domain, endpoint, public_key, status, updated_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (domain) DO UPDATE SET endpoint = excluded.endpoint,
         public_key = excluded.public_key, status = excluded.status,
         updated_at = excluded.updated_at`,
    ).run(peer.domain, peer.endpoint, peer.publicKey, peer.status, ms(peer.updatedAt));
  },
  deletePeer(db: DatabaseSync, domain: string): boolean {
    return Number(db.prepare("DELETE FROM federation_peer WHERE domain = ?").run(domain).changes) >
      0;
  },
  enqueue(db: DatabaseSync, e: Omit<FederationOutboxRecord, "attempts" | "lastError">): void {
    db.prepare(
      `INSERT INTO federation_outbox (outbox_id, destination_domain, endpoint, payload,
         public_key, attempts, next_attempt_at, last_error, created_at)
       VALUES (?, ?, ?, ?, ?, 0, ?, NULL, ?)`,
    ).run(
      e.outboxId,
      e.destinationDomain,
      e.endpoint,
      e.payload,
      e.publicKey,
      ms(e.nextAttemptAt),
      ms(e.createdAt),
    );
  },
  /** One UPDATE … RETURNING: atomic, and node:sqlite runs it to completion. */
  claim(db: DatabaseSync, now: Date, leaseMs: number, limit: number): FederationOutboxRecord[] {
    const rows = db.prepare(
      `UPDATE federation_outbox SET attempts = attempts + 1, next_attempt_at = ?
       WHERE outbox_id IN (SELECT outbox_id FROM federation_outbox WHERE next_attempt_at <= ?
         ORDER BY created_at, outbox_id LIMIT ?)
       RETURNING *`,
    ).all(ms(now) + leaseMs, ms(now), limit).map(toOutbox);
    return rows.sort(oldestFirst);
  },
  complete(db: DatabaseSync, outboxId: string): boolean {
    return Number(
      db.prepare("DELETE FROM federation_outbox WHERE outbox_id = ?").run(outboxId).changes,
    ) > 0;
  },
  fail(db: DatabaseSync, outboxId: string, error: string, next: Date): boolean {
    return Number(
      db.prepare(
        "UPDATE federation_outbox SET last_error = ?, next_attempt_at = ? WHERE outbox_id = ?",
      ).run(error, ms(next), outboxId).changes,
    ) > 0;
  },
  list(db: DatabaseSync, limit: number): FederationOutboxRecord[] {
    return db.prepare(
      "SELECT * FROM federation_outbox ORDER BY created_at, outbox_id LIMIT ?",
    ).all(limit).map(toOutbox);
  },
};
