/**
 * Helpers for this folder's tests: running external tools (openssl, curl)
 * when present, and temp directories. Not part of the public face.
 *
 * @module
 */

/** Result of an external command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args…`, capturing output (never throws for a non-zero exit). */
export async function run(cmd: string, args: string[], cwd?: string): Promise<CommandResult> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** True when `cmd` can be started (checked once, synchronously, at test registration). */
export function toolAvailable(cmd: string, args = ["--version"]): boolean {
  try {
    new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Test name, with an explicit "skipped: <tool> missing" when the tool is absent. */
export function nameFor(name: string, tool: string, available: boolean): string {
  return available ? name : `${name} (skipped: ${tool} missing)`;
}
