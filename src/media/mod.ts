/**
 * Calls: server call state, the SFU that forwards call media to accepted
 * participants, RAW media transcoding in WebAssembly Workers, the ICE-lite
 * STUN responder and TURN REST credentials.
 *
 * @module
 */
export * from "./call_service.ts";
export * from "./call_table.ts";
export * from "./header.ts";
export * from "./sfu.ts";
export * from "./transcode/ogg_opus.ts";
export * from "./transcode/opus_pool.ts";
export * from "./transcode/transcoder.ts";
export * from "./stun.ts";
export * from "./turn.ts";
export * from "./transcode/vpx_pool.ts";
export * from "./transcode/ivf.ts";
