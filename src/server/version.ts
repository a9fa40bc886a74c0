/**
 * The server's version, read from deno.json: the one source for /healthz,
 * metrics, federation and the OpenAPI document (which reads the same field).
 *
 * @module
 */
import packageInfo from "../../deno.json" with { type: "json" };

/** Version reported by /healthz, the metrics build info and federation. */
export const SERVER_VERSION: string = packageInfo.version;
