/**
 * Federation tables on PostgreSQL: peers and the durable outbox. The
 * outbox claim uses `FOR UPDATE SKIP LOCKED`, so instances sharing the
 * database never lease the same entry.
 *
 * @module
 */
import type { PostgresClient } from "./client.ts";
import { pgBytes, pgDate, pgInt, type PgRow, pgText, pgTextOrNull, validDate } from "./rows.ts";
import { StoreCorruptionError } from "../row_narrowing.ts";
import { oldestFirst } from "../domain_store.ts";
import type {
  FederationOutboxRecord,
  FederationPeerRecord,
  FederationPeerStatus,
} from "../store.ts";

const PEER_STATUSES: readonly string[] = ["active", "pending", "blocked"];

function pgPeer(row: PgRow): FederationPeerRecord {
  const status = pgText(row, "status");
  if (!PEER_STATUSES.includes(status)) {
    throw new StoreCorruptionError("column status: expected a federation peer status");
  }
  return {
    domain: pgText(row, "domain"),
    endpoint: pgText(row, "endpoint"),
    publicKey: pgBytes(row, "public_key"),
    status: status as FederationPeerStatus,
    updatedAt: pgDate(row, "updated_at"),
  };
}

/** Rows must select `payload::text AS payload_text` (JSONB would come back parsed). */
function pgOutbox(row: PgRow): FederationOutboxRecord {
  return {
    outboxId: pgText(row, "outbox_id"),
    destinationDomain: pgText(row, "destination_domain"),
    endpoint: pgText(row, "endpoint"),
    payload: pgText(row, "payload_text"),
    publicKey: pgBytes(row, "public_key"),
    attempts: pgInt(row, "attempts"),
    nextAttemptAt: pgDate(row, "next_attempt_at"),
    lastError: pgTextOrNull(row, "last_error"),
    createdAt: pgDate(row, "created_at"),
  };
}

/** Federation statements of the PostgreSQL store. */
export const postgresFederation = {
  async listPeers(sql: PostgresClient): Promise<FederationPeerRecord[]> {
    return (await sql`SELECT * FROM federation_peer ORDER BY domain`).map(pgPeer);
  },
  async getPeer(sql: PostgresClient, domain: string): Promise<FederationPeerRecord | null> {
    const [row] = await sql`SELECT * FROM federation_peer WHERE domain = ${domain}`;
    return row === undefined ? null : pgPeer(row);
  },
  async upsertPeer(sql: PostgresClient, peer: FederationPeerRecord): Promise<void> {
    await sql`INSERT INTO federation_peer (domain, endpoint, public_key, status, updated_at)
      VALUES (${peer.domain}, ${peer.endpoint}, ${peer.publicKey}, ${peer.status},
      ${validDate(peer.updatedAt)})
      ON CONFLICT (domain) DO UPDATE SET endpoint = excluded.endpoint,
        public_key = excluded.public_key, status = excluded.status,
        updated_at = excluded.updated_at`;
  },
  async deletePeer(sql: PostgresClient, domain: string): Promise<boolean> {
    return (await sql`DELETE FROM federation_peer WHERE domain = ${domain}`).count > 0;
  },
  async enqueue(
    sql: PostgresClient,
    e: Omit<FederationOutboxRecord, "attempts" | "lastError">,
  ): Promise<void> {
    await sql`INSERT INTO federation_outbox (outbox_id, destination_domain, endpoint, payload,
        public_key, attempts, next_attempt_at, last_error, created_at)
      VALUES (${e.outboxId}, ${e.destinationDomain}, ${e.endpoint}, ${e.payload}::text::jsonb,
        ${e.publicKey}, 0, ${validDate(e.nextAttemptAt)}, NULL, ${validDate(e.createdAt)})`;
  },
  async claim(
    sql: PostgresClient,
    now: Date,
    leaseMs: number,
    limit: number,
  ): Promise<FederationOutboxRecord[]> {
    const leaseUntil = new Date(validDate(now).getTime() + leaseMs);
    const rows = await sql`UPDATE federation_outbox o
      SET attempts = o.attempts + 1, next_attempt_at = ${leaseUntil}
      FROM (SELECT outbox_id FROM federation_outbox WHERE next_attempt_at <= ${now}
        ORDER BY created_at, outbox_id LIMIT ${limit} FOR UPDATE SKIP LOCKED) due
      WHERE o.outbox_id = due.outbox_id
      RETURNING o.*, o.payload::text AS payload_text`;
    return rows.map(pgOutbox).sort(oldestFirst);
  },
  async complete(sql: PostgresClient, outboxId: string): Promise<boolean> {
    return (await sql`DELETE FROM federation_outbox WHERE outbox_id = ${outboxId}`).count > 0;
  },
  async fail(sql: PostgresClient, outboxId: string, error: string, next: Date): Promise<boolean> {
    return (await sql`UPDATE federation_outbox SET last_error = ${error},
      next_attempt_at = ${validDate(next)} WHERE outbox_id = ${outboxId}`).count > 0;
  },
  async list(sql: PostgresClient, limit: number): Promise<FederationOutboxRecord[]> {
    return (await sql`SELECT *, payload::text AS payload_text FROM federation_outbox
      ORDER BY created_at, outbox_id LIMIT ${limit}`).map(pgOutbox);
  },
};
