/**
 * CommuCat — the single program. Subcommands: see `commucat --help`.
 *
 * @module
 */
import { buildCli } from "./cli/mod.ts";

if (import.meta.main) {
  await buildCli().parseAsync(Deno.args, { from: "user" });
}
