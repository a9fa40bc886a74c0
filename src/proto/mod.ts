/**
 * CCP-1, the CommuCat frame protocol: varints, frame types, the frame codec,
 * an incremental stream decoder, schemas for control payloads, the
 * established-phase unit framing, base64, the bootstrap messages (Hello,
 * Auth, Ack) and the `/connect` mode names: everything client and server
 * share.
 *
 * @example
 * ```ts
 * import { controlFrame, decodeFrame, encodeFrame, FrameType } from "./mod.ts";
 * const bytes = encodeFrame(controlFrame(FrameType.Ack, 0, 3, { ack: 1 }));
 * const decoded = decodeFrame(bytes); // { frame: {..., control: { ack: 1 }}, consumed: 15 }
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./varint.ts";
export * from "./frame_type.ts";
export * from "./version.ts";
export * from "./json.ts";
export * from "./frame.ts";
export * from "./stream.ts";
export * from "./call.ts";
export * from "./control.ts";
export * from "./units.ts";
export * from "./base64.ts";
export * from "./bootstrap.ts";
export * from "./ids.ts";
export * from "./connect_mode.ts";
export * from "./rekey.ts";
export * from "./socks_address.ts";
export * from "./padding.ts";
export * from "./ack_frame.ts";
