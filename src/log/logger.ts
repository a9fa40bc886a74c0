/**
 * The logging port: the one logger shape every part of the server writes to
 * (session, router, ledger, federation, security, API). The server creates
 * the implementation (`src/server/log.ts`); everything else only sees this
 * interface. Depends on nothing of ours.
 *
 * @module
 */

/** Structured logger: a message and optional fields (never secrets). */
export interface Logger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/** A logger that drops everything (the default where no logger is given). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
