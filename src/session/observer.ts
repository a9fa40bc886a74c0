/**
 * What a connection reports as it runs: metrics and logs subscribe here so
 * the session code depends on neither.
 *
 * @module
 */
import type { ConnectMode } from "../transport/mod.ts";

/** Structured logger shape (any logger with these methods fits). */
export interface Logger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Connection lifecycle events. */
export interface ConnectionObserver {
  opened?(info: { connectionId: string; mode: ConnectMode }): void;
  handshake?(info: {
    connectionId: string;
    ok: boolean;
    reason?: string;
    durationMs: number;
    deviceId?: string;
    userId?: string;
    /** A bearer token: observers must not log it (digest it if needed). */
    sessionId?: string;
    action?: string | null;
  }): void;
  frameIn?(type: number): void;
  frameOut?(type: number): void;
  closed?(
    info: { connectionId: string; mode: ConnectMode; established: boolean; reason: string },
  ): void;
  /** A client frame was routed (delivered live or stored for every recipient). */
  routed?(info: { type: number; seconds: number }): void;
}
