/**
 * The `deno-nodelay` load client: Deno's own `WebSocket` in worker processes
 * started with `LD_PRELOAD` = nodelay_preload.c built here. Deno's client
 * `WebSocket` sets TCP_NODELAY=0 right after connect (denoland/deno#35581), so
 * a client's small messages (the 24-byte acks) wait for the peer's delayed
 * ACK and the p99 of a paced phase carries a ~40 ms tail that is the client's;
 * the shim turns every TCP_NODELAY request of the process into "on".
 *
 * The shim is compiled at run time with `cc` into the temp directory, the
 * file name keyed by the source's hash (a cache: built once per source
 * version). Only the client worker processes get `LD_PRELOAD`: the servers,
 * relays and cluster instances are spawned by the CLI process without it
 * ({@link NO_PRELOAD}).
 *
 * @module
 */
import { toHex } from "../../src/crypto/mod.ts";
import { readProcFile } from "./procfs.ts";

const SOURCE = new URL("./nodelay_preload.c", import.meta.url);

/**
 * Environment of every server-side process the load tool spawns (server,
 * relays, cluster instances): an empty `LD_PRELOAD` (the loader ignores it),
 * so a shim in the CLI's own environment is not inherited by what is measured.
 */
export const NO_PRELOAD: Readonly<Record<string, string>> = { LD_PRELOAD: "" };

/** The built shim, or why there is none. */
export type ShimBuild = { path: string } | { error: string };

/** Cache path of the shim built from `source`: `<tmp>/commucat-nodelay-<sha256 prefix>.so`. */
export async function shimPath(source: Uint8Array<ArrayBuffer>, tmpDir: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", source));
  return `${tmpDir}/commucat-nodelay-${toHex(digest).slice(0, 16)}.so`;
}

/** The temp directory (`TMPDIR`, else /tmp). */
function tmpDir(): string {
  try {
    return Deno.env.get("TMPDIR") || "/tmp";
  } catch {
    return "/tmp";
  }
}

/**
 * Builds (or finds in the cache) the TCP_NODELAY shim. Never throws: a
 * missing `cc` or a failed build is returned as `{ error }` for the caller to
 * fall back to plain `deno` and say so.
 */
export async function buildNoDelayShim(): Promise<ShimBuild> {
  try {
    const source = await Deno.readFile(SOURCE);
    const path = await shimPath(source, tmpDir());
    try {
      if ((await Deno.stat(path)).isFile) return { path };
    } catch {
      // not built yet
    }
    // Built beside its final name and renamed: a concurrent run never loads half a file.
    const partial = `${path}.${Deno.pid}.tmp`;
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("cc", {
        args: ["-shared", "-fPIC", "-O2", "-o", partial, SOURCE.pathname, "-ldl"],
        stdout: "null",
        stderr: "piped",
      }).output();
    } catch (error) {
      return { error: `cc: ${error instanceof Deno.errors.NotFound ? "not found" : error}` };
    }
    if (!out.success) {
      await Deno.remove(partial).catch(() => {});
      const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0] ?? "";
      return { error: `cc failed (exit ${out.code})${why ? `: ${why}` : ""}` };
    }
    await Deno.rename(partial, path);
    return { path };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The memory maps of process `pid` (`/proc/<pid>/maps`: is the shim loaded?); null if unreadable. */
export function procMaps(pid: number): string | null {
  try {
    return readProcFile(pid, "maps");
  } catch {
    return null;
  }
}
