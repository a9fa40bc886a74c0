/**
 * `/connect` transports: mode selection and the links that carry units in
 * each mode.
 *
 * @module
 */
export * from "./link.ts";
export * from "./mode.ts";
export * from "./stream_link.ts";
export * from "./websocket_link.ts";
export type { TransportDescriptor, TransportLevel, TransportResistance } from "./listener.ts";
