/**
 * The CommuCat client SDK (used by tests, the CLI, the load generator).
 *
 * @module
 */
export * from "./channel.ts";
export * from "./client.ts";
export * from "./reconnect.ts";
export * from "./calls.ts";
export * from "./transport.ts";
export * from "./e2e.ts";
export * from "./cover.ts";
export * from "./multipath.ts";
