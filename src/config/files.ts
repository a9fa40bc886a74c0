/**
 * Checks of the files a loaded configuration names, run by `config check`
 * and `serve` before anything starts: each must be a readable file, and a
 * problem is one line naming the key (and its environment variable). Kept
 * apart from the schema so that loading a configuration never touches the
 * filesystem beyond the configuration file itself.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import type { LoadedConfig } from "./load.ts";

/** Why `path` cannot be read, in words (a Deno permission refusal names `--allow-read`). */
function unreadable(path: string): string | null {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return `${path} is not a file`;
    Deno.openSync(path, { read: true }).close();
    return null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `${path} does not exist`;
    if (error instanceof Deno.errors.NotCapable) {
      return `${path} is outside what the process may read (add it to --allow-read)`;
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return `${path} is not readable by this user (permission denied)`;
    }
    return `cannot read ${path}: ${(error as Error).message}`;
  }
}

/**
 * The first configured file that cannot be read (`server.tls_cert`,
 * `server.tls_key`) as a {@link ConfigError}, or null when all are readable.
 * Unset keys are fine (the server then creates its own certificate).
 */
export function checkConfigFiles(loaded: LoadedConfig): ConfigError | null {
  const files: [string, string | undefined][] = [
    ["server.tls_cert", loaded.config.server.tlsCert],
    ["server.tls_key", loaded.config.server.tlsKey],
  ];
  for (const [key, path] of files) {
    if (path === undefined) continue;
    const problem = unreadable(path);
    if (problem === null) continue;
    const source = loaded.sources.get(key);
    const env = source?.kind === "env" ? ` (${source.name})` : "";
    return new ConfigError(`${key}${env}: ${problem}`, key);
  }
  return null;
}
