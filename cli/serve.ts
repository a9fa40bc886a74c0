/**
 * `commucat serve`: loads the configuration, starts the server, prints where
 * it listens and its public keys, and stops cleanly on SIGINT/SIGTERM.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { checkConfigFiles, ConfigError, loadConfigDetailed } from "../src/config/mod.ts";
import { toHex } from "../src/crypto/mod.ts";
import { createLogger, type LogLevel, settingsFromConfig, startServer } from "../src/server/mod.ts";
import { exitWithError, messageOf } from "./errors.ts";

/** Adds `serve`. */
export function registerServeCommand(program: Command): void {
  program.command("serve")
    .description("run the server (zero configuration: embedded SQLite and keys in ./var)")
    .option(
      "-c, --config <path>",
      "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)",
    )
    .option("--migrate", "apply pending database migrations before starting")
    .action(async (options) => {
      let config;
      try {
        const loaded = loadConfigDetailed({ path: options.config });
        const files = checkConfigFiles(loaded);
        if (files !== null) throw files;
        config = loaded.config;
      } catch (error) {
        if (error instanceof ConfigError) exitWithError("serve", error, 2);
        throw error;
      }
      const log = createLogger({ level: config.log.level as LogLevel, format: config.log.format });
      let server;
      try {
        server = await startServer(settingsFromConfig(config, { migrate: options.migrate }), log);
      } catch (error) {
        exitWithError("serve", `cannot start: ${messageOf(error)}`);
      }
      const host = server.addr.hostname.includes(":")
        ? `[${server.addr.hostname}]`
        : server.addr.hostname;
      console.log(`commucat listening on https://${host}:${server.addr.port}`);
      if (server.h2cAddr) {
        console.log(
          `commucat h2c listening on http://${server.h2cAddr.hostname}:${server.h2cAddr.port}`,
        );
      }
      if (server.pt) {
        const a = server.pt.addr;
        // The bridge arguments are not printed (logs keep stdout): `pt bridge-line` shows them.
        console.log(
          `commucat pluggable transport listening on ${a.hostname}:${a.port} ` +
            "(clients' bridge line: commucat pt bridge-line)",
        );
      }
      console.log(`domain: ${server.domain}`);
      console.log(`noise public key: ${toHex(server.noiseKey().publicKey)}`);
      console.log(`device CA public key: ${toHex(server.keys.ca.publicKey)}`);
      console.log(`tls certificate: ${server.certificatePath}`);
      if (server.generatedAdminToken) {
        // Shown once, here only (never logged): it is stored hashed.
        console.log(`admin token: generated, in ${server.adminTokenPath} (mode 0600)`);
      }
      const shutdown = async (signal: string) => {
        log.info("shutting down", { signal });
        // stop() bounds each step by the grace (drain, then bus, presence, ledger, store);
        // should anything else hang, this bounds the whole.
        const limitMs = 5 * config.server.shutdownGraceMs + 5_000;
        const watchdog = setTimeout(() => {
          log.error("shutdown did not finish in time, exiting", { limit_ms: limitMs });
          Deno.exit(1);
        }, limitMs);
        await server.stop();
        clearTimeout(watchdog);
        Deno.exit(0);
      };
      Deno.addSignalListener("SIGINT", () => void shutdown("SIGINT"));
      Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));
      await server.finished;
    });
}
