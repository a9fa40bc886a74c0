/**
 * A small structured logger: one JSON object per line on stderr (or a
 * readable line with `format = "pretty"`), filtered by level.
 *
 * @module
 */
import type { Logger } from "../session/mod.ts";

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

const encoder = new TextEncoder();

/** Creates a logger. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const threshold = RANK[options.level];
  const emit = (level: LogLevel, message: string, properties?: Record<string, unknown>) => {
    if (RANK[level] < threshold) return;
    const record = {
      time: new Date().toISOString(),
      level,
      message,
      ...options.base,
      ...properties,
    };
    if (options.format === "json") {
      write(JSON.stringify(record, (_k, v) => typeof v === "bigint" ? v.toString() : v));
    } else {
      const extra = Object.entries({ ...options.base, ...properties })
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
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
