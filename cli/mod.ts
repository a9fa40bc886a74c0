/**
 * The command-line face of CommuCat: one commander program whose subcommands
 * live in this folder, one file per command group.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { registerClientCommands } from "./client.ts";
import { registerConfigCommand } from "./config_docs.ts";
import { registerMigrateCommand } from "./migrate.ts";
import { registerServeCommand } from "./serve.ts";

/** Version reported by `--version`. */
export const VERSION = "0.1.0";

/** Builds the full command tree. */
export function buildCli(): Command {
  const program = new Command()
    .name("commucat")
    .description("CommuCat: privacy-first messaging router")
    .version(VERSION);
  registerServeCommand(program);
  registerMigrateCommand(program);
  registerConfigCommand(program);
  registerClientCommands(program);
  return program as unknown as Command;
}
