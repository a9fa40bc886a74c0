/**
 * Concrete client transports (Deno only: not part of the browser bundle):
 * direct TLS, WebSocket on a custom path, SOCKS5, Shadowsocks (an
 * in-process SOCKS5 bridge), Tor pluggable transports (an obfs4proxy
 * client child), and the specs a profile
 * lists them with. The seam they implement is `ClientTransport`
 * (../transport.ts).
 *
 * @module
 */
export * from "./basic.ts";
export * from "./pt.ts";
export * from "./shadowsocks.ts";
export * from "./spec.ts";
