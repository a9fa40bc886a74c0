/**
 * Concrete client transports (Deno only: not part of the browser bundle):
 * direct TLS, WebSocket on a custom path, SOCKS5, and the specs a profile
 * lists them with. The seam they implement is `ClientTransport`
 * (../transport.ts).
 *
 * @module
 */
export * from "./basic.ts";
export * from "./spec.ts";
