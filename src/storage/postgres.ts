/**
 * The networked store: PostgreSQL through the npm `postgres` client, with a
 * connection pool.
 *
 * Availability: a connection that breaks (server restart, failover,
 * `pg_terminate_backend`) is replaced by the pool on the next query; no
 * restart is needed. A read that hit a broken connection is retried on
 * another (at most once per pooled connection, since each may be dead); a
 * write is not (it may have committed), so it fails with
 * {@link StoreUnavailableError}, as does anything while the server is down.
 *
 * Ordering: where the SQLite store breaks ties by rowid (group members with
 * the same `joinedAt`, key events with the same `recordedAt`), this store
 * uses the physical row order (`ctid`), which follows insertion order except
 * after a row is updated or its space reused.
 *
 * @module
 */

import type postgres from "postgres";
import { formatVersion, type MigrationFile, type MigrationProgress } from "./migrations.ts";
import {
  createPostgresClient,
  describePostgresTarget,
  isConnectionLost,
  type PostgresClient,
  type PostgresConnectOptions,
  translatePostgresError,
  unavailable,
} from "./postgres_client.ts";
import { postgresMigrationRunner } from "./postgres_migrations.ts";
import {
  pgDevice,
  pgEnvelope,
  pgFriendRequest,
  pgGroup,
  pgInt,
  pgKeyEvent,
  pgMember,
  pgPairing,
  pgRotation,
  pgRoute,
  type PgRow,
  pgSecret,
  pgSession,
  pgText,
  pgUser,
  validDate,
} from "./postgres_rows.ts";
import { SchemaNotCurrentError } from "./sqlite.ts";
import { decodeFriends, encodeFriends, FRIENDS_BLOB_KEY } from "./friends_blob.ts";
import { postgresFederation } from "./postgres_federation.ts";
import { PAIRING_REDEEMED_RETENTION_MS, pairingUnusable } from "./pairing_rules.ts";
import {
  type DeviceKeyEvent,
  type DeviceKeyRotation,
  type DeviceRecord,
  type DeviceRotationRecord,
  type DeviceStatus,
  type FederationOutboxRecord,
  type FederationPeerRecord,
  type FriendEntry,
  type FriendRequestRecord,
  type FriendRequestStatus,
  type GroupMemberRecord,
  type GroupRecord,
  type HandshakeCommitted,
  type HandshakeWrites,
  PAIRING_MAX_ATTEMPTS,
  type PairingClaimResult,
  type PairingRecord,
  type ProfilePatch,
  type RelayEnvelope,
  type RouteRecord,
  type ServerSecretRecord,
  type SessionRecord,
  type Store,
  StoreConflictError,
  type StoredEnvelope,
  type UserRecord,
} from "./store.ts";

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreOptions extends PostgresConnectOptions {
  /** Apply pending migrations on open (default false: refuse an outdated schema). */
  migrate?: boolean;
  /**
   * Apply every migration when the schema is brand new (no tables at all),
   * even without `migrate`, so a first start just works. A schema that has
   * tables but is behind still needs `migrate` (default false).
   */
  createIfNew?: boolean;
  /** Progress of migrations applied on open. */
  onMigrationProgress?: (event: MigrationProgress) => void;
  /** Migrations to check against (default: `migrations/postgres/` of this tree). */
  migrations?: URL | readonly MigrationFile[];
}

/** The PostgreSQL schema is behind this binary and migration was not requested. */
export class PostgresSchemaNotCurrentError extends SchemaNotCurrentError {
  constructor(target: string, pending: string[]) {
    super(target, pending);
    this.message = `postgres database ${target} needs ${pending.length} pending migration(s) ` +
      `(${
        pending.join(", ")
      }); run \`commucat migrate\` (or start with \`commucat serve --migrate\`)`;
    this.name = "PostgresSchemaNotCurrentError";
  }
}

/**
 * Connects to `dsn`, checks the schema, and returns the store. Fails with
 * {@link StoreUnavailableError} when the server cannot be reached or refuses
 * the login; migration errors (a changed or unknown migration) are thrown
 * as-is; a merely outdated schema is migrated when `migrate` is set (or when
 * the schema is empty and `createIfNew` is set), else refused with
 * {@link PostgresSchemaNotCurrentError}.
 */
export async function openPostgresStore(
  dsn: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const target = describePostgresTarget(dsn);
  const sql = createPostgresClient(dsn, options);
  try {
    const [row] = await sql`SELECT current_schema() AS schema`;
    if (typeof row?.schema !== "string") {
      throw new Error(
        `postgres database ${target}: no schema of the search_path exists; create it ` +
          `(CREATE SCHEMA …) or fix the search_path`,
      );
    }
    const runner = postgresMigrationRunner(sql, options.migrations);
    const report = await runner.status();
    if (!report.current) {
      const migrate = options.migrate || (options.createIfNew && await isEmpty(sql));
      if (report.changed.length === 0 && report.unknown.length === 0 && !migrate) {
        const pending = report.migrations.filter((m) => m.state === "pending");
        throw new PostgresSchemaNotCurrentError(
          target,
          pending.map((m) => formatVersion(m.version)),
        );
      }
      await runner.migrate({ onProgress: options.onMigrationProgress });
    }
    return new PostgresStore(sql, target, options.poolSize ?? 10);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw translatePostgresError(error, "open", target);
  }
}

async function isEmpty(sql: PostgresClient): Promise<boolean> {
  const [row] = await sql`SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_class
    WHERE relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())
      AND relkind IN ('r', 'p', 'v', 'm')
  ) AS used`;
  return row?.used === false;
}

/** {@link Store} on PostgreSQL. Create with {@link openPostgresStore}. */
export class PostgresStore implements Store {
  readonly backend = "postgres";
  readonly #sql: PostgresClient;
  readonly #target: string;
  readonly #readRetries: number;
  readonly #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;

  /**
   * Wraps a client whose schema is current (use {@link openPostgresStore}).
   * `target` names the database in errors; `poolSize` bounds read retries.
   */
  constructor(sql: PostgresClient, target: string, poolSize = 10) {
    this.#sql = sql;
    this.#target = target;
    this.#readRetries = 2 * Math.max(1, Math.min(poolSize, 16));
  }

  /** Tracks `op` so {@link close} can wait for it. */
  #track<T>(op: Promise<T>): Promise<T> {
    this.#inflight.add(op);
    const done = () => void this.#inflight.delete(op);
    op.then(done, done);
    return op;
  }

  /**
   * Runs `fn`, again on the next connection while the one it got turns out
   * broken. Idle pooled connections are taken before new ones are opened,
   * so this walks past every dead connection of the pool. Each retry first
   * yields to the event loop so the client can see the sockets that closed.
   */
  async #retrying<T>(fn: (sql: PostgresClient) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        return await fn(this.#sql);
      } catch (error) {
        if (attempt >= this.#readRetries || !isConnectionLost(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, attempt === 0 ? 0 : 5));
      }
    }
  }

  /** Runs a read, retrying past broken connections. */
  #read<T>(fn: (sql: PostgresClient) => Promise<T>): Promise<T> {
    return this.#track(
      this.#retrying(fn).catch((error) => {
        throw translatePostgresError(error, "read", this.#target);
      }),
    );
  }

  /**
   * Runs a write; conflicts and connection failures are translated, never
   * retried (it may have committed). After a broken connection the pool is
   * swept with `SELECT 1` before the error is reported, so the next
   * operation finds live connections.
   */
  #write<T>(what: string, fn: (sql: PostgresClient) => Promise<T>): Promise<T> {
    return this.#track((async () => {
      try {
        return await fn(this.#sql);
      } catch (error) {
        if (isConnectionLost(error)) await this.#retrying((sql) => sql`SELECT 1`).catch(() => {});
        throw translatePostgresError(error, what, this.#target);
      }
    })());
  }

  async #rows(query: (sql: PostgresClient) => Promise<PgRow[]>): Promise<PgRow[]> {
    return await this.#read(query);
  }

  async ping(): Promise<void> {
    await this.#read((sql) => sql`SELECT 1`);
  }

  /**
   * Waits for this store's running operations, then closes every connection.
   * Idempotent; operations started afterwards fail with StoreUnavailableError.
   */
  close(): Promise<void> {
    // The client's own graceful end can wait forever on a connection whose
    // query failed with ECONNRESET (it keeps that query as current), so the
    // store waits for its own operations and then ends without grace.
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inflight]);
      await this.#sql.end({ timeout: 0 }).catch((error) => {
        throw unavailable(error, this.#target);
      });
    })();
    return this.#closing;
  }

  // users

  async createUser(user: UserRecord): Promise<void> {
    await this.#write("user exists (id or handle@domain taken)", (sql) => insertUser(sql, user));
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    const [row] = await this.#rows((sql) => sql`SELECT * FROM app_user WHERE user_id = ${userId}`);
    return row === undefined ? null : pgUser(row);
  }

  async getUserByHandle(handle: string, domain: string): Promise<UserRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM app_user WHERE handle = ${handle} AND domain = ${domain}`
    );
    return row === undefined ? null : pgUser(row);
  }

  /** Leaves `undefined` fields alone; a missing user is a no-op. */
  async updateUserProfile(userId: string, patch: ProfilePatch, now: Date): Promise<void> {
    await this.#write("update profile", (sql) => patchProfile(sql, userId, patch, now));
  }

  /** Oldest first (created_at, then user id). */
  async listUsers(limit: number, offset: number): Promise<UserRecord[]> {
    if (!(limit >= 1)) return []; // also NaN
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM app_user ORDER BY created_at, user_id
        LIMIT ${Math.trunc(limit)} OFFSET ${Math.max(0, Math.trunc(offset) || 0)}`
    );
    return rows.map(pgUser);
  }

  // devices

  async getDevice(deviceId: string): Promise<DeviceRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM user_device WHERE device_id = ${deviceId}`
    );
    return row === undefined ? null : pgDevice(row);
  }

  async insertDevice(device: DeviceRecord): Promise<void> {
    await this.#write("device exists or user unknown", (sql) => insertDevice(sql, device));
  }

  /** A missing device is a no-op. */
  async updateDeviceKey(deviceId: string, publicKey: Uint8Array): Promise<void> {
    await this.#write("update device key", (sql) => setDeviceKey(sql, deviceId, publicKey));
  }

  /** A missing device is a no-op. */
  async setDeviceStatus(deviceId: string, status: DeviceStatus): Promise<void> {
    await this.#write(
      "set device status",
      (sql) => sql`UPDATE user_device SET status = ${status} WHERE device_id = ${deviceId}`,
    );
  }

  /** Oldest first. */
  async listDevicesForUser(userId: string): Promise<DeviceRecord[]> {
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM user_device WHERE user_id = ${userId} ORDER BY created_at, device_id`
    );
    return rows.map(pgDevice);
  }

  async countActiveDevices(userId: string): Promise<number> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT COUNT(*) AS n FROM user_device WHERE user_id = ${userId} AND status = 'active'`
    );
    return row === undefined ? 0 : pgInt(row, "n");
  }

  async recordDeviceKeyEvent(event: DeviceKeyEvent): Promise<void> {
    await this.#write("key event exists or device unknown", (sql) => insertKeyEvent(sql, event));
  }

  /** Newest by recorded_at; ties go to the one stored last (see module doc). */
  async latestDeviceKeyEvent(deviceId: string): Promise<DeviceKeyEvent | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM device_key_event WHERE device_id = ${deviceId}
        ORDER BY recorded_at DESC, ctid DESC LIMIT 1`
    );
    return row === undefined ? null : pgKeyEvent(row);
  }

  // handshake

  async commitHandshake(writes: HandshakeWrites): Promise<HandshakeCommitted> {
    return await this.#write(
      "handshake writes (user, device, key event or session) conflict",
      (sql) =>
        sql.begin(async (tx): Promise<HandshakeCommitted> => {
          if (writes.createUser) await insertUser(tx, writes.createUser);
          if (writes.insertDevice) await insertDevice(tx, writes.insertDevice);
          if (writes.updateDeviceKey) {
            const { deviceId, publicKey } = writes.updateDeviceKey;
            await setDeviceKey(tx, deviceId, publicKey);
          }
          if (writes.updateProfile) {
            const { userId, patch, now } = writes.updateProfile;
            await patchProfile(tx, userId, patch, now);
          }
          if (writes.keyEvent) await insertKeyEvent(tx, writes.keyEvent);
          await upsertSession(tx, writes.session);
          const userId = writes.session.userId;
          const [row] = await tx`SELECT u.*, (SELECT COUNT(*) FROM user_device d
            WHERE d.user_id = u.user_id AND d.status = 'active') AS active_devices
            FROM app_user u WHERE u.user_id = ${userId}`;
          return {
            user: row === undefined ? null : pgUser(row),
            activeDevices: row === undefined ? 0 : pgInt(row, "active_devices"),
          };
        }),
    );
  }

  // sessions

  async putSession(session: SessionRecord): Promise<void> {
    await this.#write("session user or device unknown", (sql) => upsertSession(sql, session));
  }

  /** Returns the session even when expired; callers check `createdAt + ttlSeconds`. */
  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM session WHERE session_id = ${sessionId}`
    );
    return row === undefined ? null : pgSession(row);
  }

  async deleteSessionsForDevice(deviceId: string): Promise<void> {
    await this.#write(
      "delete sessions",
      (sql) => sql`DELETE FROM session WHERE device_id = ${deviceId}`,
    );
  }

  /** Deletes sessions with `createdAt + ttlSeconds <= now`. */
  async purgeExpiredSessions(now: Date): Promise<number> {
    const result = await this.#write(
      "purge sessions",
      (sql) => sql`DELETE FROM session WHERE expires_at <= ${validDate(now)}`,
    );
    return result.count;
  }

  // channel routes

  async getRoute(channel: number): Promise<RouteRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM channel_route WHERE channel = ${channel}`
    );
    return row === undefined ? null : pgRoute(row);
  }

  async putRoute(route: RouteRecord): Promise<void> {
    await this.#write(
      "put route",
      (sql) =>
        sql`INSERT INTO channel_route (channel, members, relay, group_id)
        VALUES (${route.channel}, ${JSON.stringify(route.members)}::text::jsonb, ${route.relay},
        ${route.groupId})
        ON CONFLICT (channel) DO UPDATE SET members = excluded.members,
          relay = excluded.relay, group_id = excluded.group_id`,
    );
  }

  async deleteRoute(channel: number): Promise<void> {
    await this.#write(
      "delete route",
      (sql) => sql`DELETE FROM channel_route WHERE channel = ${channel}`,
    );
  }

  // groups

  async createGroup(group: GroupRecord, members: GroupMemberRecord[]): Promise<void> {
    for (const m of members) {
      if (m.groupId !== group.groupId) {
        throw new TypeError(`member ${m.deviceId} is for group ${m.groupId}, not ${group.groupId}`);
      }
    }
    await this.#write(
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

  async getGroup(groupId: string): Promise<GroupRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM chat_group WHERE group_id = ${groupId}`
    );
    return row === undefined ? null : pgGroup(row);
  }

  /** In join order (ties: see module doc). */
  async listGroupMembers(groupId: string): Promise<GroupMemberRecord[]> {
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM group_member WHERE group_id = ${groupId} ORDER BY joined_at, ctid`
    );
    return rows.map(pgMember);
  }

  /** Inserts the membership, or changes the role of an existing one (keeping `joinedAt`). */
  async upsertGroupMember(member: GroupMemberRecord): Promise<void> {
    await this.#write(
      "group or device unknown",
      (sql) =>
        sql`INSERT INTO group_member (group_id, device_id, role, joined_at)
        VALUES (${member.groupId}, ${member.deviceId}, ${member.role},
        ${validDate(member.joinedAt)})
        ON CONFLICT (group_id, device_id) DO UPDATE SET role = excluded.role`,
    );
  }

  async removeGroupMember(groupId: string, deviceId: string): Promise<void> {
    await this.#write(
      "remove group member",
      (sql) =>
        sql`DELETE FROM group_member WHERE group_id = ${groupId} AND device_id = ${deviceId}`,
    );
  }

  // offline relay queue

  /**
   * One INSERT over parallel arrays: atomic by itself, one round trip, and
   * the same statement text for every batch size (prepared once per
   * connection). Positions follow the order of `envelopes`.
   */
  async enqueueRelay(envelopes: RelayEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    const n = envelopes.length;
    const ids = new Array<string>(n);
    const devices = new Array<string>(n);
    const payloads = new Array<Uint8Array>(n);
    const deliverAfter = new Array<string>(n);
    const expiresAt = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const e = envelopes[i];
      ids[i] = e.envelopeId;
      devices[i] = e.deviceId;
      payloads[i] = e.payload;
      deliverAfter[i] = validDate(e.deliverAfter).toISOString();
      expiresAt[i] = validDate(e.expiresAt).toISOString();
    }
    await this.#write(
      "envelope id already queued",
      (sql) =>
        sql`INSERT INTO relay_queue (envelope_id, device_id, payload, deliver_after, expires_at)
        SELECT * FROM unnest(${sql.array(ids)}::text[], ${sql.array(devices)}::text[],
          ${sql.array(payloads, 17)}::bytea[], ${sql.array(deliverAfter)}::timestamptz[],
          ${sql.array(expiresAt)}::timestamptz[])`,
    );
  }

  async loadInbox(
    deviceId: string,
    options: { limit: number; now: Date; afterPosition?: bigint },
  ): Promise<StoredEnvelope[]> {
    if (!(options.limit >= 1)) return []; // also NaN
    const now = validDate(options.now);
    const rows = await this.#rows((sql) =>
      sql`SELECT position, envelope_id, payload, deliver_after, expires_at FROM relay_queue
        WHERE device_id = ${deviceId} AND position > ${options.afterPosition ?? 0n}
          AND deliver_after <= ${now} AND expires_at > ${now}
        ORDER BY position LIMIT ${Math.trunc(options.limit)}`
    );
    return rows.map((row) => pgEnvelope(row, deviceId));
  }

  /** Only envelopes of `deviceId` go; ids of other devices are ignored. */
  async deleteRelay(deviceId: string, envelopeIds: string[]): Promise<number> {
    if (envelopeIds.length === 0) return 0;
    const result = await this.#write("delete relay", (sql) =>
      sql`DELETE FROM relay_queue
        WHERE device_id = ${deviceId} AND envelope_id = ANY(${sql.array(envelopeIds)}::text[])`);
    return result.count;
  }

  async purgeExpiredRelay(now: Date): Promise<number> {
    const result = await this.#write(
      "purge relay",
      (sql) => sql`DELETE FROM relay_queue WHERE expires_at <= ${validDate(now)}`,
    );
    return result.count;
  }

  /** Unexpired envelopes, including ones not yet deliverable. */
  async countInbox(deviceId: string, now: Date): Promise<number> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT COUNT(*) AS n FROM relay_queue
        WHERE device_id = ${deviceId} AND expires_at > ${validDate(now)}`
    );
    return row === undefined ? 0 : pgInt(row, "n");
  }

  async countRelayTotal(): Promise<number> {
    const [row] = await this.#rows((sql) => sql`SELECT COUNT(*) AS n FROM relay_queue`);
    return row === undefined ? 0 : pgInt(row, "n");
  }

  // server secrets

  async listSecrets(name: string): Promise<ServerSecretRecord[]> {
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM server_secret WHERE name = ${name} ORDER BY version DESC`
    );
    return rows.map(pgSecret);
  }

  async insertSecret(secret: ServerSecretRecord): Promise<void> {
    await this.#write(
      `secret ${secret.name} version ${secret.version} exists`,
      (sql) =>
        sql`INSERT INTO server_secret (name, version, secret, public, metadata, created_at,
          valid_after, rotates_at, expires_at) VALUES (${secret.name}, ${secret.version},
          ${secret.secret}, ${secret.public}, ${JSON.stringify(secret.metadata)}::text::jsonb,
          ${validDate(secret.createdAt)}, ${validDate(secret.validAfter)},
          ${validDate(secret.rotatesAt)}, ${validDate(secret.expiresAt)})`,
    );
  }

  async deleteSecret(name: string, version: number): Promise<void> {
    await this.#write(
      "delete secret",
      (sql) => sql`DELETE FROM server_secret WHERE name = ${name} AND version = ${version}`,
    );
  }

  // pairing

  async createPairing(
    pairing: Omit<PairingRecord, "redeemedAt" | "redeemedDeviceId" | "publicKey" | "attempts">,
  ): Promise<void> {
    await this.#write(
      "pairing code exists or issuer unknown",
      (sql) =>
        sql`INSERT INTO device_pairing (pair_code, user_id, issuer_device_id, issued_at,
          expires_at) VALUES (${pairing.pairCode}, ${pairing.userId}, ${pairing.issuerDeviceId},
          ${validDate(pairing.issuedAt)}, ${validDate(pairing.expiresAt)})`,
    );
  }

  async getPairing(pairCode: string): Promise<PairingRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM device_pairing WHERE pair_code = ${pairCode}`
    );
    return row === undefined ? null : pgPairing(row);
  }

  /** The row lock (FOR UPDATE) serializes concurrent claims of one code. */
  async claimPairing(
    pairCode: string,
    now: Date,
    device: Omit<DeviceRecord, "userId">,
    keyEvent: DeviceKeyEvent,
  ): Promise<PairingClaimResult> {
    validDate(now);
    return await this.#write(
      "device exists",
      (sql) =>
        sql.begin(async (tx): Promise<PairingClaimResult> => {
          const [row] = await tx`SELECT * FROM device_pairing WHERE pair_code = ${pairCode}
          FOR UPDATE`;
          if (row === undefined) return { ok: false, reason: "not_found" };
          const pairing = pgPairing(row);
          const reason = pairingUnusable(pairing, now);
          if (reason !== null) {
            await tx`UPDATE device_pairing SET attempts = attempts + 1
            WHERE pair_code = ${pairCode}`;
            return { ok: false, reason };
          }
          const inserted: DeviceRecord = { ...device, userId: pairing.userId };
          await tx`INSERT INTO user_device (device_id, user_id, public_key, status, created_at)
          VALUES (${inserted.deviceId}, ${inserted.userId}, ${inserted.publicKey},
          ${inserted.status}, ${validDate(inserted.createdAt)})`;
          await tx`INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
          VALUES (${keyEvent.eventId}, ${keyEvent.deviceId}, ${keyEvent.publicKey},
          ${validDate(keyEvent.recordedAt)})`;
          const [updated] = await tx`UPDATE device_pairing SET redeemed_at = ${now},
            redeemed_device_id = ${inserted.deviceId}, public_key = ${inserted.publicKey},
            attempts = attempts + 1
          WHERE pair_code = ${pairCode} RETURNING *`;
          return { ok: true, pairing: pgPairing(updated), device: inserted };
        }),
    );
  }

  async purgePairings(now: Date): Promise<number> {
    const cutoff = new Date(validDate(now).getTime() - PAIRING_REDEEMED_RETENTION_MS);
    const result = await this.#write(
      "purge pairings",
      (sql) =>
        sql`DELETE FROM device_pairing WHERE expires_at <= ${now}
          OR attempts >= ${PAIRING_MAX_ATTEMPTS}
          OR (redeemed_at IS NOT NULL AND redeemed_at <= ${cutoff})`,
    );
    return result.count;
  }

  // friends

  async getFriends(userId: string): Promise<FriendEntry[]> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT payload FROM user_blob WHERE user_id = ${userId} AND key = ${FRIENDS_BLOB_KEY}`
    );
    return row === undefined ? [] : decodeFriends(pgText(row, "payload"));
  }

  async putFriends(userId: string, entries: FriendEntry[], now: Date): Promise<void> {
    await this.#write(
      "user unknown",
      (sql) =>
        sql`INSERT INTO user_blob (user_id, key, payload, updated_at)
        VALUES (${userId}, ${FRIENDS_BLOB_KEY}, ${encodeFriends(entries)}, ${validDate(now)})
        ON CONFLICT (user_id, key) DO UPDATE SET payload = excluded.payload,
          updated_at = excluded.updated_at`,
    );
  }

  async upsertFriendRequest(request: FriendRequestRecord): Promise<FriendRequestRecord> {
    const [row] = await this.#write(
      "friend request id exists",
      (sql) =>
        sql`INSERT INTO friend_requests (id, from_user_id, to_user_id, status, message,
          created_at, updated_at) VALUES (${request.id}, ${request.fromUserId},
          ${request.toUserId}, 'pending', ${request.message}, ${validDate(request.createdAt)},
          ${validDate(request.updatedAt)})
        ON CONFLICT (from_user_id, to_user_id) DO UPDATE SET status = 'pending',
          message = excluded.message, updated_at = excluded.updated_at
        RETURNING *`,
    );
    return pgFriendRequest(row);
  }

  async getFriendRequest(
    fromUserId: string,
    toUserId: string,
  ): Promise<FriendRequestRecord | null> {
    const [row] = await this.#rows((sql) =>
      sql`SELECT * FROM friend_requests
        WHERE from_user_id = ${fromUserId} AND to_user_id = ${toUserId}`
    );
    return row === undefined ? null : pgFriendRequest(row);
  }

  async getFriendRequestById(id: string): Promise<FriendRequestRecord | null> {
    const [row] = await this.#rows((sql) => sql`SELECT * FROM friend_requests WHERE id = ${id}`);
    return row === undefined ? null : pgFriendRequest(row);
  }

  async listIncomingFriendRequests(userId: string): Promise<FriendRequestRecord[]> {
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM friend_requests WHERE to_user_id = ${userId} AND status = 'pending'
        ORDER BY created_at, ctid`
    );
    return rows.map(pgFriendRequest);
  }

  async listOutgoingFriendRequests(userId: string): Promise<FriendRequestRecord[]> {
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM friend_requests WHERE from_user_id = ${userId}
        ORDER BY created_at, ctid`
    );
    return rows.map(pgFriendRequest);
  }

  async setFriendRequestStatus(
    id: string,
    status: FriendRequestStatus,
    now: Date,
  ): Promise<boolean> {
    const result = await this.#write(
      "set friend request status",
      (sql) =>
        sql`UPDATE friend_requests SET status = ${status}, updated_at = ${validDate(now)}
        WHERE id = ${id}`,
    );
    return result.count === 1;
  }

  async devicesShareGroup(deviceA: string, deviceB: string): Promise<boolean> {
    const rows = await this.#rows((sql) =>
      sql`SELECT 1 FROM group_member a JOIN group_member b ON a.group_id = b.group_id
        WHERE a.device_id = ${deviceA} AND b.device_id = ${deviceB} LIMIT 1`
    );
    return rows.length > 0;
  }

  // device key rotation

  async rotateDeviceKey(rotation: DeviceKeyRotation): Promise<void> {
    const e = rotation.event;
    const a = rotation.audit;
    await this.#write("device already rotated to this key", (sql) =>
      sql.begin(async (tx) => {
        const changed = await tx`UPDATE user_device SET public_key = ${rotation.newPublicKey}
          WHERE device_id = ${rotation.deviceId} AND public_key = ${a.oldPublicKey}`;
        if (changed.count !== 1) {
          throw new StoreConflictError("device missing or its key changed meanwhile");
        }
        await tx`INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
          VALUES (${e.eventId}, ${e.deviceId}, ${e.publicKey}, ${validDate(e.recordedAt)})`;
        await tx`INSERT INTO device_rotation_audit (rotation_id, device_id, old_public_key,
            new_public_key, signature, nonce, proof_expires_at, applied_at)
          VALUES (${a.rotationId}, ${a.deviceId}, ${a.oldPublicKey}, ${a.newPublicKey},
            ${a.signature}, ${a.nonce}, ${validDate(a.proofExpiresAt)},
            ${validDate(a.appliedAt)})`;
      }));
  }

  async listDeviceRotations(deviceId: string): Promise<DeviceRotationRecord[]> {
    const rows = await this.#rows((sql) =>
      sql`SELECT * FROM device_rotation_audit WHERE device_id = ${deviceId}
        ORDER BY applied_at DESC, ctid DESC`
    );
    return rows.map(pgRotation);
  }

  // idempotency

  async claimIdempotencyKey(key: string, scope: string, now: Date): Promise<boolean> {
    const result = await this.#write(
      "claim idempotency key",
      (sql) =>
        sql`INSERT INTO idempotency (key, scope, created_at) VALUES (${key}, ${scope},
        ${validDate(now)}) ON CONFLICT (key, scope) DO NOTHING`,
    );
    return result.count === 1;
  }

  async releaseIdempotencyKey(key: string, scope: string): Promise<void> {
    await this.#write(
      "release idempotency key",
      (sql) => sql`DELETE FROM idempotency WHERE key = ${key} AND scope = ${scope}`,
    );
  }

  // federation

  listFederationPeers(): Promise<FederationPeerRecord[]> {
    return this.#read((sql) => postgresFederation.listPeers(sql));
  }

  getFederationPeer(domain: string): Promise<FederationPeerRecord | null> {
    return this.#read((sql) => postgresFederation.getPeer(sql, domain));
  }

  upsertFederationPeer(peer: FederationPeerRecord): Promise<void> {
    return this.#write("upsert federation peer", (sql) => postgresFederation.upsertPeer(sql, peer));
  }

  deleteFederationPeer(domain: string): Promise<boolean> {
    return this.#write(
      "delete federation peer",
      (sql) => postgresFederation.deletePeer(sql, domain),
    );
  }

  enqueueFederationOutbox(
    entry: Omit<FederationOutboxRecord, "attempts" | "lastError">,
  ): Promise<void> {
    return this.#write("outbox entry exists", (sql) => postgresFederation.enqueue(sql, entry));
  }

  claimFederationOutbox(
    now: Date,
    leaseMs: number,
    limit: number,
  ): Promise<FederationOutboxRecord[]> {
    return this.#write(
      "claim federation outbox",
      (sql) => postgresFederation.claim(sql, now, leaseMs, limit),
    );
  }

  completeFederationOutbox(outboxId: string): Promise<boolean> {
    return this.#write(
      "complete outbox entry",
      (sql) => postgresFederation.complete(sql, outboxId),
    );
  }

  failFederationOutbox(outboxId: string, error: string, nextAttemptAt: Date): Promise<boolean> {
    return this.#write(
      "fail outbox entry",
      (sql) => postgresFederation.fail(sql, outboxId, error, nextAttemptAt),
    );
  }

  listFederationOutbox(limit: number): Promise<FederationOutboxRecord[]> {
    return this.#read((sql) => postgresFederation.list(sql, limit));
  }
}

/** A query tag: the pool or a transaction. */
type PgTag = PostgresClient | postgres.TransactionSql<{ bigint: bigint; bytea: Uint8Array }>;

// Single-row writes, shared by the one-call methods and commitHandshake.

function insertUser(q: PgTag, user: UserRecord) {
  return q`INSERT INTO app_user (user_id, handle, display_name, avatar_url, domain, created_at,
    updated_at) VALUES (${user.userId}, ${user.handle}, ${user.displayName},
    ${user.avatarUrl}, ${user.domain}, ${validDate(user.createdAt)},
    ${validDate(user.updatedAt)})`;
}

function patchProfile(q: PgTag, userId: string, patch: ProfilePatch, now: Date) {
  return q`UPDATE app_user SET
    display_name = CASE WHEN ${patch.displayName !== undefined}::boolean
      THEN ${patch.displayName ?? null}::text ELSE display_name END,
    avatar_url = CASE WHEN ${patch.avatarUrl !== undefined}::boolean
      THEN ${patch.avatarUrl ?? null}::text ELSE avatar_url END,
    updated_at = ${validDate(now)}
  WHERE user_id = ${userId}`;
}

function insertDevice(q: PgTag, device: DeviceRecord) {
  return q`INSERT INTO user_device (device_id, user_id, public_key, status, created_at)
    VALUES (${device.deviceId}, ${device.userId}, ${device.publicKey}, ${device.status},
    ${validDate(device.createdAt)})`;
}

function setDeviceKey(q: PgTag, deviceId: string, publicKey: Uint8Array) {
  return q`UPDATE user_device SET public_key = ${publicKey} WHERE device_id = ${deviceId}`;
}

function insertKeyEvent(q: PgTag, event: DeviceKeyEvent) {
  return q`INSERT INTO device_key_event (event_id, device_id, public_key, recorded_at)
    VALUES (${event.eventId}, ${event.deviceId}, ${event.publicKey},
    ${validDate(event.recordedAt)})`;
}

function upsertSession(q: PgTag, session: SessionRecord) {
  const created = validDate(session.createdAt);
  const expires = validDate(new Date(created.getTime() + session.ttlSeconds * 1000));
  return q`INSERT INTO session (session_id, user_id, device_id, tls_fingerprint, created_at,
      ttl_seconds, expires_at) VALUES (${session.sessionId}, ${session.userId},
      ${session.deviceId}, ${session.tlsFingerprint}, ${created}, ${session.ttlSeconds},
      ${expires})
    ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,
      device_id = excluded.device_id, tls_fingerprint = excluded.tls_fingerprint,
      created_at = excluded.created_at, ttl_seconds = excluded.ttl_seconds,
      expires_at = excluded.expires_at`;
}
