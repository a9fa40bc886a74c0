/**
 * Routing between devices: live peers, presence, access policy, fan-out and
 * the durable offline queue.
 *
 * @module
 */
export * from "./access.ts";
export * from "./bus.ts";
export * from "./errors.ts";
export { ack, type HandlerDeps } from "./handlers.ts";
export { Durability, type DurabilityListener, type EnvelopeRef } from "./kept_copies.ts";
export * from "./offline_queue.ts";
export * from "./peer.ts";
export * from "./presence.ts";
export * from "./redis_bus.ts";
export * from "./redis_connection.ts";
export * from "./redis_presence.ts";
export * from "./registry.ts";
export * from "./router.ts";
export * from "./routes.ts";
