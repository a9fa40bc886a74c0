/**
 * CCP-1, the CommuCat frame protocol: varints, frame types, the frame codec,
 * an incremental stream decoder, and schemas for control payloads.
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
