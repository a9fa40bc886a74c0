/**
 * Sessions: the `/connect` connection (its handshake phase and established
 * phase), the server side of the handshake, and the per-server runtime the
 * connections share.
 *
 * @module
 */
export * from "./connection.ts";
export * from "./errors.ts";
export * from "./handshake.ts";
export type { HandshakeStore } from "./identity.ts";
export type { HandshakeDriver } from "./handshake_phase.ts";
export {
  describeNoiseKey,
  type NoiseKey,
  type NoiseKeyring,
  StaticKeyring,
} from "../crypto/mod.ts";
export * from "./observer.ts";
export * from "./replay.ts";
export { SessionRuntime } from "./runtime.ts";
export type { RekeyPolicy } from "./rekey.ts";
