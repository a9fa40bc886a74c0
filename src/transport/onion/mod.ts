/**
 * Onion service: the torrc lines for running behind Tor (./torrc.ts).
 *
 * @module
 */
export * from "./torrc.ts";
