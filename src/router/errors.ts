/**
 * A routing failure that becomes an Error frame for the sender; the
 * connection stays open.
 *
 * @module
 */

/** Machine-readable codes of router Error frames. */
export type RouteErrorCode =
  | "invalid_payload"
  | "no_route"
  | "not_member"
  | "forbidden"
  | "unknown_device"
  | "unknown_group"
  | "conflict"
  | "unsupported"
  | "unavailable"
  | "queue_full";

/** Router error carried back to the sender as `{"error":code,"detail":…}`. */
export class RouteError extends Error {
  readonly code: RouteErrorCode;
  constructor(code: RouteErrorCode, detail: string) {
    super(detail);
    this.name = "RouteError";
    this.code = code;
  }
}
