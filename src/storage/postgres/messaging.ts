/**
 * Channel routes, groups and the offline queue on PostgreSQL: plain
 * functions over the pool, called by {@link PostgresStore}.
 *
 * @module
 */
import type { PostgresClient } from "./client.ts";
import type { PostgresDb } from "./db.ts";
import { pgEnvelope, pgInt, pgRecords, pgText, validDate } from "./rows.ts";
import type {
  GroupMemberRecord,
  GroupRecord,
  OfflineEnvelope,
  OfflineQueueUsage,
  QueueUsage,
  RouteRecord,
  StoredEnvelope,
} from "../store.ts";

// channel routes

export async function getRoute(db: PostgresDb, channel: number): Promise<RouteRecord | null> {
  const [row] = await db.rows((sql) => sql`SELECT * FROM channel_route WHERE channel = ${channel}`);
  return row === undefined ? null : pgRecords.route(row);
}

export async function putRoute(db: PostgresDb, route: RouteRecord): Promise<void> {
  await db.write(
    "put route",
    (sql) =>
      // The legacy column `relay` was never read (upstream's flag); always false.
      sql`INSERT INTO channel_route (channel, members, relay, group_id)
      VALUES (${route.channel}, ${JSON.stringify(route.members)}::text::jsonb, false,
      ${route.groupId})
      ON CONFLICT (channel) DO UPDATE SET members = excluded.members,
        group_id = excluded.group_id`,
  );
}

export async function deleteRoute(db: PostgresDb, channel: number): Promise<void> {
  await db.write(
    "delete route",
    (sql) => sql`DELETE FROM channel_route WHERE channel = ${channel}`,
  );
}

// groups

export async function createGroup(
  db: PostgresDb,
  group: GroupRecord,
  members: GroupMemberRecord[],
): Promise<void> {
  for (const m of members) {
    if (m.groupId !== group.groupId) {
      throw new TypeError(`member ${m.deviceId} is for group ${m.groupId}, not ${group.groupId}`);
    }
  }
  await db.write(
    `group ${group.groupId} exists or a device is unknown`,
    (sql) =>
      sql.begin(async (tx) => {
        await tx`INSERT INTO chat_group (group_id, owner_device, created_at)
        VALUES (${group.groupId}, ${group.ownerDevice}, ${validDate(group.createdAt)})`;
        if (members.length === 0) return;
        // One statement; unnest keeps the members' order, so ties on joined_at list in it.
        await tx`INSERT INTO group_member (group_id, device_id, role, joined_at)
        SELECT ${group.groupId}, d, r, j FROM unnest(
          ${tx.array(members.map((m) => m.deviceId))}::text[],
          ${tx.array(members.map((m) => m.role))}::text[],
          ${tx.array(members.map((m) => validDate(m.joinedAt).toISOString()))}::timestamptz[]
        ) AS m (d, r, j)`;
      }),
  );
}

export async function getGroup(db: PostgresDb, groupId: string): Promise<GroupRecord | null> {
  const [row] = await db.rows((sql) => sql`SELECT * FROM chat_group WHERE group_id = ${groupId}`);
  return row === undefined ? null : pgRecords.group(row);
}

/** In join order (ties: see module doc). */
export async function listGroupMembers(
  db: PostgresDb,
  groupId: string,
): Promise<GroupMemberRecord[]> {
  const rows = await db.rows((sql) =>
    sql`SELECT * FROM group_member WHERE group_id = ${groupId} ORDER BY joined_at, ctid`
  );
  return rows.map(pgRecords.member);
}

/** Inserts the membership, or changes the role of an existing one (keeping `joinedAt`). */
export async function upsertGroupMember(db: PostgresDb, member: GroupMemberRecord): Promise<void> {
  await db.write(
    "group or device unknown",
    (sql) =>
      sql`INSERT INTO group_member (group_id, device_id, role, joined_at)
      VALUES (${member.groupId}, ${member.deviceId}, ${member.role},
      ${validDate(member.joinedAt)})
      ON CONFLICT (group_id, device_id) DO UPDATE SET role = excluded.role`,
  );
}

export async function removeGroupMember(
  db: PostgresDb,
  groupId: string,
  deviceId: string,
): Promise<void> {
  await db.write(
    "remove group member",
    (sql) => sql`DELETE FROM group_member WHERE group_id = ${groupId} AND device_id = ${deviceId}`,
  );
}

// offline queue

/**
 * One INSERT over parallel arrays: atomic by itself, one round trip, and
 * the same statement text for every batch size (prepared once per
 * connection). Positions follow the order of `envelopes`.
 */
export async function enqueueOffline(db: PostgresDb, envelopes: OfflineEnvelope[]): Promise<void> {
  if (envelopes.length === 0) return;
  await db.write("envelope id already queued", (sql) => insertEnvelopes(sql, envelopes));
}

/** The INSERT of {@link enqueueOffline}, on the pool or inside a transaction. */
async function insertEnvelopes(q: PostgresClient, envelopes: OfflineEnvelope[]): Promise<void> {
  const c = envelopeColumns(envelopes);
  await q`INSERT INTO relay_queue
      (envelope_id, device_id, payload, deliver_after, expires_at, sender_user)
    SELECT * FROM unnest(${q.array(c.ids)}::text[], ${q.array(c.devices)}::text[],
      ${q.array(c.payloads, 17)}::bytea[], ${q.array(c.deliverAfter)}::timestamptz[],
      ${q.array(c.expiresAt)}::timestamptz[], ${q.array(c.senders)}::text[])`;
}

/** `envelopes` as the parallel arrays the INSERT over `unnest` takes. */
function envelopeColumns(envelopes: OfflineEnvelope[]) {
  const n = envelopes.length;
  const ids = new Array<string>(n);
  const devices = new Array<string>(n);
  const payloads = new Array<Uint8Array>(n);
  const deliverAfter = new Array<string>(n);
  const expiresAt = new Array<string>(n);
  const senders = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = envelopes[i];
    ids[i] = e.envelopeId;
    devices[i] = e.deviceId;
    payloads[i] = e.payload;
    deliverAfter[i] = validDate(e.deliverAfter).toISOString();
    expiresAt[i] = validDate(e.expiresAt).toISOString();
    senders[i] = e.senderUser ?? "";
  }
  return { ids, devices, payloads, deliverAfter, expiresAt, senders };
}

export async function writeOfflineBatch(
  db: PostgresDb,
  insert: OfflineEnvelope[],
  remove: { deviceId: string; envelopeId: string }[],
): Promise<void> {
  if (remove.length === 0) return await enqueueOffline(db, insert);
  // A row inserted and removed in the same batch is simply not written
  // (the statement's DELETE would not see the INSERT's rows).
  const inserted = new Map(insert.map((e) => [e.envelopeId, e.deviceId]));
  const gone = new Set(
    remove.filter((r) => inserted.get(r.envelopeId) === r.deviceId).map((r) => r.envelopeId),
  );
  if (gone.size > 0) {
    insert = insert.filter((e) => !gone.has(e.envelopeId));
    remove = remove.filter((r) => !gone.has(r.envelopeId));
    if (remove.length === 0) return await enqueueOffline(db, insert);
  }
  const devices = remove.map((r) => r.deviceId);
  const ids = remove.map((r) => r.envelopeId);
  // One statement (atomic by itself): one round trip instead of BEGIN,
  // INSERT, DELETE, COMMIT — on a busy instance each round trip also waits
  // for an event-loop turn.
  await db.write("envelope id already queued", (sql) => {
    if (insert.length === 0) {
      return sql`DELETE FROM relay_queue r
        USING unnest(${sql.array(devices)}::text[], ${
        sql.array(ids)
      }::text[]) AS d(device_id, envelope_id)
        WHERE r.envelope_id = d.envelope_id AND r.device_id = d.device_id`;
    }
    const c = envelopeColumns(insert);
    return sql`WITH inserted AS (
        INSERT INTO relay_queue
          (envelope_id, device_id, payload, deliver_after, expires_at, sender_user)
        SELECT * FROM unnest(${sql.array(c.ids)}::text[], ${sql.array(c.devices)}::text[],
          ${sql.array(c.payloads, 17)}::bytea[], ${sql.array(c.deliverAfter)}::timestamptz[],
          ${sql.array(c.expiresAt)}::timestamptz[], ${sql.array(c.senders)}::text[])
        RETURNING 1
      )
      DELETE FROM relay_queue r
        USING unnest(${sql.array(devices)}::text[], ${
      sql.array(ids)
    }::text[]) AS d(device_id, envelope_id)
        WHERE r.envelope_id = d.envelope_id AND r.device_id = d.device_id`;
  });
}

export async function loadOfflineQueue(
  db: PostgresDb,
  deviceId: string,
  options: { limit: number; now: Date; afterPosition?: bigint },
): Promise<StoredEnvelope[]> {
  if (!(options.limit >= 1)) return []; // also NaN
  const now = validDate(options.now);
  const rows = await db.rows((sql) =>
    sql`SELECT position, envelope_id, payload, deliver_after, expires_at FROM relay_queue
      WHERE device_id = ${deviceId} AND position > ${options.afterPosition ?? 0n}
        AND deliver_after <= ${now} AND expires_at > ${now}
      ORDER BY position LIMIT ${Math.trunc(options.limit)}`
  );
  return rows.map((row) => pgEnvelope(row, deviceId));
}

/** Only envelopes of `deviceId` go; ids of other devices are ignored. */
export async function deleteOffline(
  db: PostgresDb,
  deviceId: string,
  envelopeIds: string[],
): Promise<number> {
  if (envelopeIds.length === 0) return 0;
  const result = await db.write("delete relay", (sql) =>
    sql`DELETE FROM relay_queue
      WHERE device_id = ${deviceId} AND envelope_id = ANY(${sql.array(envelopeIds)}::text[])`);
  return result.count;
}

export async function purgeExpiredOffline(db: PostgresDb, now: Date): Promise<number> {
  const result = await db.write(
    "purge relay",
    (sql) => sql`DELETE FROM relay_queue WHERE expires_at <= ${validDate(now)}`,
  );
  return result.count;
}

/** Unexpired envelopes, including ones not yet deliverable. */
export async function countOfflineQueue(
  db: PostgresDb,
  deviceId: string,
  now: Date,
): Promise<number> {
  const [row] = await db.rows((sql) =>
    sql`SELECT COUNT(*) AS n FROM relay_queue
      WHERE device_id = ${deviceId} AND expires_at > ${validDate(now)}`
  );
  return row === undefined ? 0 : pgInt(row, "n");
}

/** `octet_length` of a bytea reads its stored size, without detoasting the payload. */
export async function offlineQueueUsage(
  db: PostgresDb,
  deviceIds: string[],
  senderUser: string,
  now: Date,
): Promise<OfflineQueueUsage> {
  const at = validDate(now);
  const recipients = new Map<string, QueueUsage>();
  if (deviceIds.length > 0) {
    const rows = await db.rows((sql) =>
      sql`SELECT device_id, COUNT(*) AS frames, COALESCE(SUM(octet_length(payload)), 0) AS bytes
        FROM relay_queue
        WHERE device_id = ANY(${sql.array(deviceIds)}::text[]) AND expires_at > ${at}
        GROUP BY device_id`
    );
    for (const row of rows) {
      recipients.set(pgText(row, "device_id"), {
        frames: pgInt(row, "frames"),
        bytes: pgInt(row, "bytes"),
      });
    }
  }
  let sender: QueueUsage = { frames: 0, bytes: 0 };
  if (senderUser !== "") {
    const [row] = await db.rows((sql) =>
      sql`SELECT COUNT(*) AS frames, COALESCE(SUM(octet_length(payload)), 0) AS bytes
        FROM relay_queue WHERE sender_user = ${senderUser} AND expires_at > ${at}`
    );
    if (row !== undefined) sender = { frames: pgInt(row, "frames"), bytes: pgInt(row, "bytes") };
  }
  return { recipients, sender };
}

export async function countOfflineTotal(db: PostgresDb): Promise<number> {
  const [row] = await db.rows((sql) => sql`SELECT COUNT(*) AS n FROM relay_queue`);
  return row === undefined ? 0 : pgInt(row, "n");
}

export async function devicesShareGroup(
  db: PostgresDb,
  deviceA: string,
  deviceB: string,
): Promise<boolean> {
  const rows = await db.rows((sql) =>
    sql`SELECT 1 FROM group_member a JOIN group_member b ON a.group_id = b.group_id
      WHERE a.device_id = ${deviceA} AND b.device_id = ${deviceB} LIMIT 1`
  );
  return rows.length > 0;
}
