/**
 * Where a load run ran: the machine (CPU, cores, kernel, Deno, load
 * average at the start) and the commit, for the report's header.
 *
 * @module
 */
import type { LoadReport } from "./report_types.ts";

/** The machine this process runs on (the load average as of now). */
export function machineInfo(): LoadReport["machine"] {
  let cpu = "unknown CPU";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  const [l1, l5, l15] = Deno.loadavg();
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    loadAverage: `${l1.toFixed(2)} ${l5.toFixed(2)} ${l15.toFixed(2)}`,
  };
}

/** The short commit of the repository this code is in; null outside git. */
export async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}
