/**
 * Sessions: the `/connect` connection state machine, the server side of the
 * handshake, and established-phase framing.
 *
 * @module
 */
export * from "./connection.ts";
export * from "./errors.ts";
export * from "./handshake.ts";
export type { HandshakeStore } from "./identity.ts";
export * from "./keyring.ts";
export * from "./observer.ts";
export * from "./replay.ts";
