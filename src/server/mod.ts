/**
 * The server: composition root and HTTP surface.
 *
 * @module
 */
export * from "./app.ts";
export * from "./keys.ts";
export * from "./settings.ts";
export * from "./from_config.ts";
export * from "./log.ts";
