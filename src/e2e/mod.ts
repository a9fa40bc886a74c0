/**
 * End-to-end encryption between devices with MLS (RFC 9420) through ts-mls, suite 83
 * (`MLS_256_XWING_AES256GCM_SHA512_Ed25519`): key packages signed by the device key, one group
 * per conversation channel, Msg payload envelope, safety numbers (docs/PROTOCOL.md "End-to-end
 * encryption"). Browser-safe except `file_store.ts` (Deno file system), exported separately.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./suite.ts";
export * from "./key_package.ts";
export * from "./envelope.ts";
export * from "./fingerprint.ts";
export * from "./store.ts";
export * from "./events.ts";
export * from "./device.ts";
export { MAX_HELD } from "./replay.ts";
export { fromBase64, toBase64 } from "./bytes.ts";
