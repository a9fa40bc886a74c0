/**
 * `commucat ledger verify <file>`: checks a file ledger's hash chain from
 * the first line to the last. Prints `ok: N records` and the head hash (keep
 * it elsewhere to detect a later change to the last line), or
 * `line K: <reason>` for the first bad line with exit code 1. A file that
 * cannot be read ends with exit code 2.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { verifyLedgerFile } from "../src/ledger/mod.ts";
import { errorLine, messageOf } from "./errors.ts";
import { type MigrateIo as CliIo, stdIo } from "./migrate.ts";

/** Runs the check; returns the process exit code. */
export async function runLedgerVerify(file: string, io: CliIo = stdIo): Promise<number> {
  let result;
  try {
    result = await verifyLedgerFile(file);
  } catch (error) {
    io.error(errorLine("ledger verify", `cannot read ledger ${file}: ${messageOf(error)}`));
    return 2;
  }
  if (!result.ok) {
    io.write(`line ${result.line}: ${result.reason}\n`);
    return 1;
  }
  io.write(`ok: ${result.records} records\nhead: ${result.head}\n`);
  return 0;
}

/** Adds `ledger verify <file>` to `program`. */
export function registerLedgerCommands(program: Command, io: CliIo = stdIo): Command {
  const ledger = program.command("ledger").description("audit ledger tools");
  ledger.command("verify")
    .description("check a file ledger's hash chain; names the first bad line")
    .argument("<file>", "ledger file (JSON lines)")
    .action(async (file) => {
      const code = await runLedgerVerify(file, io);
      if (code !== 0) Deno.exitCode = code;
    });
  return program;
}
