/**
 * What a connection reports as it runs: metrics and logs subscribe here so
 * the session code depends on neither.
 *
 * @module
 */
import type { ConnectMode } from "../transport/mod.ts";

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
    /** True for a post-quantum hybrid (`hfs`) handshake. */
    postQuantum?: boolean;
  }): void;
  frameIn?(type: number): void;
  frameOut?(type: number): void;
  closed?(
    info: { connectionId: string; mode: ConnectMode; established: boolean; reason: string },
  ): void;
  /**
   * A client frame was routed (delivered live or stored for every recipient).
   * `info` is reused for the next frame: read it during the call, never keep it.
   */
  routed?(info: { type: number; seconds: number }): void;
  /**
   * A write carried `deliveries` live deliveries; the oldest was read from
   * its sender `seconds` ago (positional: called per write, no object).
   */
  routeDelay?(seconds: number, deliveries: number): void;
}
