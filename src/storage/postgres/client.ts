/**
 * The PostgreSQL connection pool (npm `postgres`) as the store uses it, and
 * the translation of its errors: lost or refused connections become
 * {@link StoreUnavailableError}, unique and foreign-key violations become
 * {@link StoreConflictError}.
 *
 * A DSN can carry a password, so it never appears in an error message:
 * errors name the target as `host:port/database` only ({@link describePostgresTarget}).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import postgres from "postgres";
import { StoreConflictError } from "../store.ts";

/** Connection settings shared by the store and the migration command. */
export interface PostgresConnectOptions {
  /** Most connections the pool opens (default 10). */
  poolSize?: number;
  /**
   * Schema to work in: sent as the connection's `search_path`. It must exist.
   * Default: the server's (normally `public`). A `search_path` query
   * parameter in the DSN takes precedence.
   */
  schema?: string;
  /** `application_name` of the connections, shown in `pg_stat_activity` (default "commucat"). */
  applicationName?: string;
  /** Seconds to wait for a connection before failing (default 10). */
  connectTimeoutSeconds?: number;
}

/**
 * The client type: BIGINT comes back as `bigint`, BYTEA as a plain
 * `Uint8Array`, TIMESTAMPTZ as `Date`, JSON/JSONB parsed.
 */
export type PostgresClient = postgres.Sql<{ bigint: bigint; bytea: Uint8Array }>;

/** The backend cannot be reached (refused, lost, timed out, or rejected our login). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `host:port/database` of a DSN, without user or password; `"(invalid DSN)"`
 * when it does not look like `postgres://…`.
 */
export function describePostgresTarget(dsn: string): string {
  const match = /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?([^/?#]*)(?:\/([^?#]*))?/i.exec(dsn);
  if (match === null) return "(invalid DSN)";
  const hosts = match[1] === "" ? "localhost" : match[1];
  const withPort = hosts.split(",").map((h) => (/:\d+$/.test(h) ? h : `${h}:5432`)).join(",");
  return `${withPort}/${decodeURIComponentSafe(match[2] ?? "")}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Opens a pool for `dsn`. No connection is made until the first query.
 * Throws a TypeError (not naming the DSN) for a malformed DSN or option.
 */
export function createPostgresClient(
  dsn: string,
  options: PostgresConnectOptions = {},
): PostgresClient {
  if (!/^postgres(?:ql)?:\/\//i.test(dsn)) {
    throw new TypeError("postgres DSN must start with postgres:// or postgresql://");
  }
  const poolSize = options.poolSize ?? 10;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) throw new RangeError("poolSize: bad value");
  const connectTimeout = options.connectTimeoutSeconds ?? 10;
  if (!(connectTimeout > 0)) throw new RangeError("connectTimeoutSeconds: bad value");
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new TypeError("schema: expected a lower-case identifier ([a-z_][a-z0-9_]*)");
  }
  const connection: Record<string, string> = {
    application_name: options.applicationName ?? "commucat",
    // Timestamps are parsed by the client from text: one fixed zone keeps that simple.
    TimeZone: "UTC",
  };
  if (options.schema !== undefined) connection.search_path = options.schema;
  try {
    return connect(dsn, poolSize, connectTimeout, connection);
  } catch (error) {
    // The URL parser's error quotes the whole URL, password included.
    if (error instanceof TypeError) throw new TypeError("postgres DSN is not a valid URL");
    if (error instanceof Deno.errors.NotCapable) {
      // The client reads libpq's PG* variables (PGPASSWORD, PGAPPNAME, …) at construction.
      throw new Deno.errors.NotCapable(
        `postgres client: ${error.message} (it reads the PG* environment variables: ` +
          `grant --allow-env=PG* and --allow-net for the database host)`,
      );
    }
    throw error;
  }
}

function connect(
  dsn: string,
  poolSize: number,
  connectTimeout: number,
  connection: Record<string, string>,
): PostgresClient {
  return postgres(dsn, {
    max: poolSize,
    connect_timeout: connectTimeout,
    onnotice: () => {}, // "relation already exists, skipping" and the like: not ours to print
    connection,
    types: {
      bigint: postgres.BigInt,
      // The default parser returns a Buffer that may share a pooled ArrayBuffer;
      // callers get a Uint8Array of their own.
      bytea: {
        to: 17,
        from: [17],
        serialize: (x: Uint8Array) =>
          "\\x" + Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("hex"),
        parse: (x: string): Uint8Array => new Uint8Array(Buffer.from(x.slice(2), "hex")),
      },
    },
  });
}

// Connection-level failures of the client, the OS, and the server.
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown (pg_terminate_backend, server stop)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up / shutting down)
  "53300", // too_many_connections
  "3D000", // invalid_catalog_name: the database does not exist
]);

// The subset after which the same query on a fresh connection can succeed.
const LOST_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "57P01",
  "57P02",
]);

function codeOf(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("code" in error)) return null;
  return typeof error.code === "string" ? error.code : null;
}

/** True for errors that say the backend is unreachable rather than that a statement failed. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = codeOf(error);
  if (code === null) return false;
  // 08xxx connection_exception, 28xxx invalid authorization.
  return UNAVAILABLE_CODES.has(code) || code.startsWith("08") || code.startsWith("28");
}

/** True when a connection broke under a statement: retrying a read on a new one makes sense. */
export function isConnectionLost(error: unknown): boolean {
  const code = codeOf(error);
  return code !== null && (LOST_CODES.has(code) || code.startsWith("08"));
}

/** `error` as a {@link StoreUnavailableError} naming `target` (never the DSN). */
export function unavailable(error: unknown, target: string): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`storage unavailable: postgres ${target}: ${reason}`, {
    cause: error,
  });
}

// SQLSTATEs that mean "this would duplicate or orphan a row".
const CONFLICT_CODES = new Set(["23505", "23503"]); // unique_violation, foreign_key_violation

/**
 * Translates a failed statement: conflicts → {@link StoreConflictError},
 * connection failures → {@link StoreUnavailableError}, anything else as-is.
 */
export function translatePostgresError(error: unknown, what: string, target: string): unknown {
  if (error instanceof postgres.PostgresError && CONFLICT_CODES.has(error.code)) {
    // The message names the constraint, never values (those are in `detail`, not passed on).
    return new StoreConflictError(`${what}: ${error.message}`);
  }
  if (isUnavailable(error)) return unavailable(error, target);
  return error;
}
