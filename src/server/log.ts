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

/** A record as one JSON line, through {@link replacer} (the general path). */
export function jsonLine(record: Record<string, unknown>): string {
  return JSON.stringify(record, replacer);
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

let isoMs = Number.NaN;
let isoText = "";
let isoSecond = Number.NaN;
/** `YYYY-MM-DDTHH:mm:ss.` of `isoSecond`, or "" when its ISO text is not 24 characters. */
let isoSecondPrefix = "";

/** The time as ISO 8601 text, formatted once per millisecond (lines come in bursts: a storm's). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = isoTime(ms);
  }
  return isoText;
}

/**
 * `new Date(ms).toISOString()`, with the date and time up to the second
 * formatted once per second: lines a few milliseconds apart (a handshake
 * storm's, one per handshake) each paid a whole `toISOString` (~9k
 * instructions, against ~1.3k for this). Exported for its test.
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const text = new Date(second * 1000).toISOString();
    isoSecond = second;
    // Years outside 0000–9999 (and NaN) are written otherwise: those take the general path.
    isoSecondPrefix = text.length === 24 ? text.slice(0, 20) : "";
  }
  const milli = ms - second * 1000;
  if (isoSecondPrefix === "" || !Number.isInteger(milli)) return new Date(ms).toISOString();
  return isoSecondPrefix + (milli < 10 ? "00" : milli < 100 ? "0" : "") + milli + "Z";
}

/**
 * The JSON line of a record whose properties are all strings, numbers,
 * booleans, null or undefined (a handshake's, a close's), built by
 * concatenation: exactly what `JSON.stringify(record, replacer)` writes for
 * it, without the replacer's call per key (~20k instructions of a handshake
 * line). Null when a property needs the general path (objects, bytes,
 * bigints, an index-like key, a key that would overwrite `time`, `level` or
 * `message`). Exported for its test against {@link jsonLine}.
 */
export function flatJsonLine(
  time: string,
  level: LogLevel,
  message: string,
  properties: Record<string, unknown> | undefined,
): string | null {
  let line = `{"time":"${time}","level":"${level}","message":${JSON.stringify(message)}`;
  for (const key in properties) {
    if (!Object.hasOwn(properties, key)) continue;
    let value = properties[key];
    const type = typeof value;
    if (type === "undefined") continue;
    // An index-like key would be written before `time`; these three would overwrite theirs.
    const first = key.charCodeAt(0);
    if (first >= 0x30 && first <= 0x39) return null;
    if (key === "time" || key === "level" || key === "message") return null;
    if (type === "string") {
      if (isSensitiveKey(key)) value = REDACTED_VALUE;
    } else if (type !== "number" && type !== "boolean" && value !== null) {
      return null;
    }
    line += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return line + "}";
}

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
  // Without base properties a JSON line may be written flat (see flatJsonLine).
  const flat = options.format === "json" &&
    (options.base === undefined || Object.keys(options.base).length === 0);
  const emitNow = (level: LogLevel, message: string, properties?: Record<string, unknown>) => {
    const time = isoNow();
    const line = flat ? flatJsonLine(time, level, message, properties) : null;
    if (line !== null) return write(line);
    const record = { time, level, message, ...options.base, ...properties };
    if (options.format === "json") {
      write(jsonLine(record));
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
  const levelOf = { debug: "debug", info: "info", warn: "warning", error: "error" } as const;
  return {
    enabled: (level) => RANK[levelOf[level]] >= threshold,
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
