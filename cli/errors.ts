/**
 * The one form of every error line the CLI prints:
 * `commucat: <command>: <message>` on stderr, one line, non-zero exit. The
 * command is the full subcommand path (`client send`, `config check`), so a
 * line in a log or a script's output says which command failed. Commander's
 * own usage errors are rewritten into the same form ({@link useOneErrorForm}).
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";

/** Name every error line starts with. */
export const PROGRAM = "commucat";

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `commucat: <command>: <message>`, always one line. */
export function errorLine(command: string, message: string): string {
  return `${PROGRAM}: ${command}: ${message.replace(/\s*[\r\n]+\s*/g, " ").trim()}`;
}

/** Prints {@link errorLine} to stderr and ends the process with `code`. */
export function exitWithError(command: string, error: unknown, code = 1): never {
  console.error(errorLine(command, messageOf(error)));
  Deno.exit(code);
}

/** `serve`, `client send`, `federation peers add`: the command's path below the program. */
export function commandPath(command: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let c: CommandUnknownOpts | null = command; c?.parent; c = c.parent) {
    names.unshift(c.name());
  }
  return names.join(" ");
}

/**
 * Makes commander print its usage errors (unknown option, bad argument) as
 * `commucat: <command>: <message>` too, instead of its `error: …`. Call once
 * the whole command tree is built.
 */
export function useOneErrorForm(program: CommandUnknownOpts): void {
  const visit = (command: CommandUnknownOpts) => {
    const path = commandPath(command);
    command.configureOutput({
      outputError: (text, write) =>
        write(errorLine(path === "" ? "usage" : path, text.replace(/^error:\s*/, "")) + "\n"),
    });
    for (const sub of command.commands) visit(sub as CommandUnknownOpts);
  };
  visit(program);
}
