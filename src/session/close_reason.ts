/**
 * Why a connection closes, and the Error an established client gets first.
 *
 * @module
 */
import type { PeerCloseReason } from "../router/mod.ts";

/**
 * A {@link PeerCloseReason} given by the server, or one the session finds
 * itself: `too_many_errors` for a client that keeps sending frames the
 * server must refuse, `frame_timeout` for one that starts a frame and never
 * finishes it (PROTOCOL.md §2).
 */
export type CloseReason =
  | PeerCloseReason
  | "client_closed"
  | "protocol_error"
  | "inbound_backlog"
  | "handshake_failed"
  | "internal_error"
  | "too_many_errors"
  | "frame_timeout";

/** The Error frame an established client gets before the close, by reason (PROTOCOL.md §4). */
export const FAREWELL: Partial<Record<CloseReason, { error: string; detail: string }>> = {
  replaced: { error: "replaced", detail: "this device connected again elsewhere" },
  shutdown: { error: "shutdown", detail: "server is shutting down" },
  too_many_errors: {
    error: "too_many_errors",
    detail: "too many refused frames; the connection is closed",
  },
  frame_timeout: { error: "timeout", detail: "a frame was started and not completed in time" },
};
