/**
 * CPU pinning for a load run: the server (and the raw relay baseline, in its
 * turn) on one set of cores, the load client on another, with `taskset`. A
 * server figure is then "what one core of server did", measured against a
 * relay that had the same core, and the client's saturation is readable as
 * its CPU use against the cores it was given.
 *
 * @module
 */

/** Which cores the server side and the client side run on (`taskset -c` lists). */
export interface CpuPlan {
  /** Cores of the server under test and of the relay baseline, e.g. "0". */
  server: string;
  /** Cores of the load client (this process and any worker processes), e.g. "1". */
  client: string;
}

/** Number of cores a `taskset -c` list names ("0", "1-3", "0,2"). */
export function cpuCount(list: string): number {
  let count = 0;
  for (const part of list.split(",")) {
    const [from, to] = part.split("-").map((s) => Number(s.trim()));
    if (!Number.isInteger(from) || from < 0 || (to !== undefined && !Number.isInteger(to))) {
      throw new Error(`not a CPU list: "${list}"`);
    }
    count += to === undefined ? 1 : Math.max(0, to - from + 1);
  }
  return count;
}

/** The argv that runs `command args` on `cpus` (unchanged when `cpus` is null). */
export function pinnedArgv(
  cpus: string | null,
  command: string,
  args: string[],
): { command: string; args: string[] } {
  return cpus === null
    ? { command, args }
    : { command: "taskset", args: ["-c", cpus, command, ...args] };
}

/** True when `taskset` can be run here. */
export async function tasksetAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-p", String(Deno.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Pins every thread of `pid` (default: this process) to `cpus`; throws on failure. */
export async function pinProcess(cpus: string, pid = Deno.pid): Promise<void> {
  const out = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", cpus, String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`taskset -a -p -c ${cpus} ${pid}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * The default plan: the server on core 0 and the client on core 1 when the
 * machine has at least two and `taskset` works; null (no pinning) otherwise.
 */
export async function defaultCpuPlan(): Promise<CpuPlan | null> {
  if (navigator.hardwareConcurrency < 2 || !(await tasksetAvailable())) return null;
  return { server: "0", client: "1" };
}
