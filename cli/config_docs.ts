/**
 * `commucat config …`: check a configuration, print the key reference or a
 * sample file. All three come from the schema in `src/config`.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import {
  checkConfigFiles,
  ConfigError,
  loadConfigDetailed,
  type LoadOptions,
  renderConfigReference,
  renderSampleConfig,
  summarizeConfig,
} from "../src/config/mod.ts";
import { errorLine } from "./errors.ts";

/** Outcome of {@linkcode checkConfig}: what to print and the exit code. */
export interface CheckResult {
  /** 0 when the configuration loads, 1 otherwise. */
  readonly code: 0 | 1;
  /** Text for stdout (success) or stderr (failure); secrets are redacted. */
  readonly output: string;
}

/**
 * Loads the configuration and renders the `config check` report: `config ok`,
 * the file used, then every key with its value (secrets redacted) and source.
 * A configuration error, or a configured file (TLS certificate or key) that
 * cannot be read, yields its one-line message and code 1.
 */
export function checkConfig(options: LoadOptions = {}): CheckResult {
  try {
    const loaded = loadConfigDetailed(options);
    const files = checkConfigFiles(loaded);
    if (files !== null) throw files;
    const lines = [
      "config ok",
      `file: ${loaded.file ?? "(none; defaults and environment only)"}`,
      ...summarizeConfig(loaded),
    ];
    return { code: 0, output: lines.join("\n") + "\n" };
  } catch (e) {
    if (e instanceof ConfigError) {
      return { code: 1, output: errorLine("config check", e.message) + "\n" };
    }
    throw e;
  }
}

/** Adds `config check [--config path]`, `config reference` and `config sample` to `program`. */
export function registerConfigCommand(program: Command): void {
  const config = program.command("config").description("inspect the server configuration");
  config.command("check")
    .description("load the configuration, report the first problem or print it (secrets redacted)")
    .option(
      "-c, --config <path>",
      "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)",
    )
    .action((opts) => {
      const result = checkConfig({ path: opts.config });
      if (result.code === 0) console.log(result.output.trimEnd());
      else console.error(result.output.trimEnd());
      Deno.exitCode = result.code;
    });
  config.command("reference")
    .description("print the markdown table of every configuration key")
    .action(() => console.log(renderConfigReference().trimEnd()));
  config.command("sample")
    .description("print a sample commucat.toml listing every key with its default")
    .action(() => console.log(renderSampleConfig().trimEnd()));
}
