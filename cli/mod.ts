/**
 * The command-line face of CommuCat: one commander program whose subcommands
 * live in this folder, one file per command group.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";

/** Version reported by `--version` and `/healthz`. */
export const VERSION = "0.1.0";

/** Builds the full command tree. */
export function buildCli() {
  const program = new Command()
    .name("commucat")
    .description("CommuCat: privacy-first messaging router")
    .version(VERSION);
  return program;
}
