/**
 * The command-line face of CommuCat: one commander program whose subcommands
 * live in this folder, one file per command group.
 *
 * @module
 */
import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { loadConfig } from "../src/config/mod.ts";
import { openStore, type Store } from "../src/storage/mod.ts";
import { settingsFromConfig, storeSettingsOf } from "../src/server/mod.ts";
import { registerAdminCommands } from "./admin.ts";
import { registerBenchCommand } from "./bench.ts";
import { registerClientCommands } from "./client.ts";
import { registerConfigCommand } from "./config_docs.ts";
import { registerFederationCommands } from "./federation.ts";
import { registerKeyCommands } from "./keys.ts";
import { registerLedgerCommands } from "./ledger.ts";
import { registerMigrateCommand } from "./migrate.ts";
import { registerPtCommands } from "./pt.ts";
import { registerServeCommand } from "./serve.ts";
import { useOneErrorForm } from "./errors.ts";

/** Version reported by `--version`. */
export const VERSION = "0.1.0";

/**
 * Opens the store the configuration names (SQLite file or PostgreSQL), refusing an old schema.
 * `--db` names an existing SQLite file: a mistyped path must not leave an empty database behind.
 */
export async function openConfiguredStore(
  options: { config?: string; db?: string } = {},
): Promise<Store> {
  if (options.db) {
    const db = options.db;
    await Deno.stat(db).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Error(
        `database ${db} does not exist (check --db; \`commucat migrate --db ${db}\` creates one)`,
      );
    });
    return await openStore({ backend: "sqlite", path: db });
  }
  const settings = settingsFromConfig(loadConfig({ path: options.config }));
  return await openStore(storeSettingsOf(settings));
}

/** Builds the full command tree. */
export function buildCli(): Command {
  const program = new Command()
    .name("commucat")
    .description("CommuCat: privacy-first messaging router")
    .version(VERSION);
  registerServeCommand(program);
  registerMigrateCommand(program);
  registerConfigCommand(program);
  registerAdminCommands(program, (config) => openConfiguredStore({ config }));
  registerKeyCommands(program, openConfiguredStore);
  registerFederationCommands(program, openConfiguredStore);
  registerLedgerCommands(program);
  registerPtCommands(program);
  registerClientCommands(program);
  registerBenchCommand(program);
  useOneErrorForm(program as unknown as CommandUnknownOpts);
  return program as unknown as Command;
}
