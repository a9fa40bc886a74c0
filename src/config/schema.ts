/**
 * The configuration schema: the single source of truth for every key — its
 * name, environment variable, type, default and description (attached to each
 * leaf through `keyMeta` in keys.ts) and every cross-key rule. The loader, the
 * reference docs and `commucat diagnose` all derive from it.
 *
 * Deliberate departures from upstream (§13.2) are stated in the descriptions:
 * everything has a usable default so `commucat serve` works with no file.
 *
 * The sections are defined by concern in schema_server.ts, schema_routing.ts,
 * schema_security.ts, schema_calls.ts and schema_transport.ts; this module
 * composes them in file order and applies the cross-key rules.
 *
 * @module
 */
import { z } from "zod";
import { camelize } from "./case.ts";
import { checkConfig, deriveConfig } from "./checks.ts";
import { calls, ice } from "./schema_calls.ts";
import { federation, ledger, limits, router, uploads } from "./schema_routing.ts";
import { deviceRotation, security } from "./schema_security.ts";
import { admin, crypto, log, presence, server, storage, web } from "./schema_server.ts";
import { multipath, transport } from "./schema_transport.ts";

/** The file's shape (snake_case sections and keys), before cross-key rules. */
export const rawConfigSchema = z.strictObject({
  server: server.prefault({}),
  storage: storage.prefault({}),
  presence: presence.prefault({}),
  crypto: crypto.prefault({}),
  federation: federation.prefault({}),
  ledger: ledger.prefault({}),
  limits: limits.prefault({}),
  router: router.prefault({}),
  uploads: uploads.prefault({}),
  security: security.prefault({}),
  rotation: z.strictObject({ device: deviceRotation.prefault({}) }).prefault({}),
  ice: ice.prefault({}),
  calls: calls.prefault({}),
  admin: admin.prefault({}),
  transport: transport.prefault({}),
  multipath: multipath.prefault({}),
  log: log.prefault({}),
  web: web.prefault({}),
});

/** Output of {@linkcode rawConfigSchema}. */
export type RawConfig = z.output<typeof rawConfigSchema>;

/**
 * The configuration schema: file/env shape in, frozen-ready camelCase
 * {@linkcode Config} out, with every cross-key rule applied.
 */
export const configSchema = rawConfigSchema
  .superRefine(checkConfig)
  .transform((raw, ctx) => camelize(deriveConfig(raw, ctx)));

/**
 * The loaded configuration: sections mirror the file (`config.server.bind`,
 * `config.limits.relayTtl`, `config.security.rateLimit.httpBurst`); keys are
 * camelCase; `<data_dir>` and `{domain}` are already expanded.
 */
export type Config = z.output<typeof configSchema>;
