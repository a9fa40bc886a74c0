/**
 * Multipath sessions (PROTOCOL.md "Multipath"): one Noise session carried
 * over several `/connect` paths at once. Path units, attach tokens, the
 * scheduling policy (single / duplicate / RaptorQ) and the endpoint both
 * client and server run. Depends on proto and crypto only.
 *
 * @module
 */
export * from "./keys.ts";
export * from "./wire.ts";
export * from "./policy.ts";
export * from "./fec.ts";
export {
  type EndpointOptions,
  MultipathEndpoint,
  type PathEnd,
  type PathLink,
  type PathStatus,
} from "./endpoint.ts";
export { ReorderBuffer } from "./reorder.ts";
export {
  AttachError,
  type MultipathSettings,
  ServerPaths,
  type ServerPathsSide,
} from "./server.ts";
export { MultipathHub, type MultipathStats, newPathSecret } from "./hub.ts";
export { type AttachedLink, AttachingPath, MAX_ATTACH_UNIT } from "./attaching.ts";
export * from "./raptorq.ts";
export { RetransmitQueue } from "./retransmit.ts";

/** Hello capability of a client that runs multipath sessions. */
export const MULTIPATH_CAPABILITY = "multipath";
/** Hello capability of a multipath client that decodes RaptorQ packets. */
export const RAPTORQ_CAPABILITY = "raptorq";
