/**
 * The logging port ({@link Logger}) and a silent default. Depends on nothing
 * of ours; the server supplies the real logger.
 *
 * @module
 */
export { type Logger, type LoggerLevel, logsAt, silentLogger } from "./logger.ts";
