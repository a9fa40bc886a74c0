/**
 * CommuCat configuration: one zod schema describing every key (name, env
 * variable, type, default, description), a loader (TOML file < environment <
 * overrides) producing a frozen, camelCase {@linkcode Config}, and docs
 * generated from the schema.
 *
 * ```ts
 * import { loadConfig, parseBind } from "../config/mod.ts";
 * const config = loadConfig();
 * const { hostname, port } = parseBind(config.server.bind);
 * ```
 *
 * @module
 */
export { ConfigError } from "./errors.ts";
export { type BindAddress, parseBind, type ParseBindOptions } from "./address.ts";
export { type Config, configSchema, type RawConfig } from "./schema.ts";
export type { KeyMeta } from "./keys.ts";
export type { FederationPeer, TurnAuth, TurnServer } from "./tables.ts";
export { CONFIG_KEYS, type KeyDescriptor } from "./tree.ts";
export {
  CONFIG_ENV,
  DEFAULT_CONFIG_FILE,
  loadConfig,
  loadConfigDetailed,
  type LoadedConfig,
  type LoadOptions,
  type ValueSource,
} from "./load.ts";
export { REDACTED, summarizeConfig } from "./summary.ts";
export {
  embedConfigReference,
  REFERENCE_BEGIN,
  REFERENCE_END,
  renderConfigReference,
  renderSampleConfig,
} from "./docs.ts";
export { DATA_DIR, x25519PublicHex } from "./checks.ts";
export { checkConfigFiles } from "./files.ts";
