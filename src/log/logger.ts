/**
 * The logging port: the one logger shape every part of the server writes to
 * (session, router, ledger, federation, security, API). The server creates
 * the implementation (`src/server/log.ts`); everything else only sees this
 * interface. Depends on nothing of ours.
 *
 * @module
 */

/** The methods of a {@link Logger}, one per level. */
export type LoggerLevel = "debug" | "info" | "warn" | "error";

/** Structured logger: a message and optional fields (never secrets). */
export interface Logger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
  /**
   * Whether a line at `level` is written at all (fixed for the logger's
   * life). A caller on a hot path (a line per handshake) asks once and skips
   * building the properties of lines that would be dropped. Absent: assume
   * every line is written.
   */
  enabled?(level: LoggerLevel): boolean;
}

/** Whether `log` writes lines at `level` (see {@link Logger.enabled}). */
export function logsAt(log: Logger, level: LoggerLevel): boolean {
  return log.enabled?.(level) ?? true;
}

/** A logger that drops everything (the default where no logger is given). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
};
