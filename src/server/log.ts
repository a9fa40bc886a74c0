/**
 * A small structured logger: one JSON object per line on stderr (or a
 * readable line with `format = "pretty"`), filtered by level.
 *
 * Defence in depth for "secrets never appear in logs": a property whose name
 * says it holds a secret or content (token, secret, private key, seed,
 * password, authorization, cookie, session, payload, plaintext, body, text)
 * is written as `[redacted]` unless it is a number or boolean, and bytes are
 * written as their length only. Call sites still must not log such values.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { problem } from "../http/mod.ts";

/** Log levels, most verbose first. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error";

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warning: 3, error: 4 };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "pretty";
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  /** Properties added to every record. */
  base?: Record<string, unknown>;
}

/** What a redacted property value is replaced with. */
export const REDACTED_VALUE = "[redacted]";

const SENSITIVE_WORDS = new Set([
  "token",
  "secret",
  "private",
  "seed",
  "password",
  "passphrase",
  "authorization",
  "cookie",
  "session",
  "payload",
  "plaintext",
  "body",
  "text",
]);

/** Whether a property named `key` may hold a secret or message content. */
export function isSensitiveKey(key: string): boolean {
  let sensitive = sensitiveKeys.get(key);
  if (sensitive === undefined) {
    sensitive = sensitiveWords(key);
    // Keys are the code's own few property names; bounded anyway.
    if (sensitiveKeys.size >= 1024) sensitiveKeys.clear();
    sensitiveKeys.set(key, sensitive);
  }
  return sensitive;
}

/** Answers of {@link isSensitiveKey} so far: every log line asks again for the same keys. */
const sensitiveKeys = new Map<string, boolean>();

function sensitiveWords(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().split(/[^a-z0-9]+/);
  return words.some((w) => SENSITIVE_WORDS.has(w));
}

/** JSON replacer: bigints as strings, bytes as their length, sensitive keys redacted. */
function replacer(key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (
    key !== "" && isSensitiveKey(key) && typeof value !== "number" && typeof value !== "boolean"
  ) {
    return value === null || value === undefined ? value : REDACTED_VALUE;
  }
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  return value;
}

const encoder = new TextEncoder();

/** Creates a logger. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const threshold = RANK[options.level];
  const emit = (level: LogLevel, message: string, properties?: Record<string, unknown>) => {
    if (RANK[level] < threshold) return;
    // Loggers are called from timers and event callbacks, where a throw ends
    // the process: a closed stderr or an unserializable property loses the line only.
    try {
      emitNow(level, message, properties);
    } catch { /* the line is lost, the server is not */ }
  };
  const emitNow = (level: LogLevel, message: string, properties?: Record<string, unknown>) => {
    const record = {
      time: new Date().toISOString(),
      level,
      message,
      ...options.base,
      ...properties,
    };
    if (options.format === "json") {
      write(JSON.stringify(record, replacer));
    } else {
      const extra = Object.entries({ ...options.base, ...properties })
        .map(([k, v]) => {
          const safe = replacer(k, v);
          return `${k}=${typeof safe === "string" ? safe : JSON.stringify(safe, replacer)}`;
        }).join(" ");
      write(
        `${record.time} ${level.toUpperCase().padEnd(7)} ${message}${extra ? " " + extra : ""}`,
      );
    }
  };
  return {
    debug: (m, p) => emit("debug", m, p),
    info: (m, p) => emit("info", m, p),
    warn: (m, p) => emit("warning", m, p),
    error: (m, p) => emit("error", m, p),
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The request id of `request`: a well-formed `x-request-id` set by a reverse
 * proxy is kept (so logs of both can be joined), otherwise a new UUID.
 */
export function requestId(request: Request): string {
  const given = request.headers.get("x-request-id");
  return given !== null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * Logs a request that failed with `error` — request id, method and path,
 * never the query, headers or body, which may carry secrets — and answers a
 * 500 problem carrying the same id (body `request_id` and header
 * `x-request-id`), so a user's report can be matched to the log line.
 */
export function requestFailed(error: unknown, request: Request, log: Logger): Response {
  const id = requestId(request);
  log.error("request failed", {
    request: id,
    method: request.method,
    path: new URL(request.url).pathname,
    error: String(error),
  });
  return problem(500, "internal server error", {
    extra: { request_id: id },
    headers: { "x-request-id": id },
  });
}

/** Wraps an HTTP handler so a thrown error is answered by {@link requestFailed}. */
export function withRequestLog(
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
  log: Logger,
): (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  return async (request, info) => {
    try {
      return await handler(request, info);
    } catch (error) {
      return requestFailed(error, request, log);
    }
  };
}
