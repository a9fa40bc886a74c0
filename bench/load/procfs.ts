/**
 * What the load generator reads about a process from Linux `/proc`: CPU time
 * (utime + stime of `/proc/<pid>/stat`), resident memory (`VmRSS` of
 * `/proc/<pid>/status`) and the main thread's run-queue wait (`schedstat`).
 *
 * @module
 */
import process from "node:process";

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux). */
export const CLK_TCK = 100;

/** CPU time of a process, in clock ticks. */
export interface CpuTicks {
  user: number;
  system: number;
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last `)`: utime and stime are
 * fields 14 and 15 of the whole line.
 */
export function parseProcStat(text: string): CpuTicks {
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error("not a /proc/<pid>/stat line");
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const user = Number(fields[14 - 3]);
  const system = Number(fields[15 - 3]);
  if (!Number.isInteger(user) || !Number.isInteger(system)) {
    throw new Error("malformed /proc/<pid>/stat: utime/stime are not integers");
  }
  return { user, system };
}

/** Parses the `VmRSS` line of `/proc/<pid>/status`, in bytes. */
export function parseVmRss(text: string): number {
  const match = text.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  if (!match) throw new Error("no VmRSS line in /proc/<pid>/status");
  return Number(match[1]) * 1024;
}

/**
 * Reads `/proc/<pid>/<name>`. Deno asks for `--allow-all` to read `/proc/<pid>`
 * directly, so without it the file is read through `cat` (`--allow-run`).
 */
export function readProcFile(
  pid: number,
  name: "stat" | "status" | "schedstat" | "limits",
): string {
  const path = `/proc/${pid}/${name}`;
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  const out = new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .outputSync();
  if (!out.success) throw new Error(`cannot read ${path}`);
  return new TextDecoder().decode(out.stdout);
}

/** CPU seconds (user + system) the process `pid` has used so far. */
export function readCpuSeconds(pid: number): number {
  return cpuSecondsOf(parseProcStat(readProcFile(pid, "stat")));
}

/** Clock ticks as seconds. */
export function cpuSecondsOf(ticks: CpuTicks): number {
  return (ticks.user + ticks.system) / CLK_TCK;
}

/** CPU seconds (user + system) this process has used so far (needs no permission). */
export function selfCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * Parses `/proc/<pid>/schedstat` ("time on CPU, time waiting on a run queue,
 * timeslices", nanoseconds): the wait, in seconds.
 */
export function parseSchedstatWait(text: string): number {
  const fields = text.trim().split(/\s+/);
  const wait = Number(fields[1]);
  if (fields.length < 3 || !Number.isFinite(wait) || wait < 0) {
    throw new Error("malformed /proc/<pid>/schedstat");
  }
  return wait / 1e9;
}

/**
 * Seconds the main thread of `pid` (the event loop of a Deno process) has so
 * far spent runnable but waiting for a core another task held; null when
 * the kernel does not keep schedstats or the file is unreadable.
 */
export function readRunQueueWaitSeconds(pid: number): number | null {
  try {
    return parseSchedstatWait(readProcFile(pid, "schedstat"));
  } catch {
    return null;
  }
}

/** Parses the soft "Max open files" of `/proc/<pid>/limits`; null when absent or unlimited. */
export function parseOpenFilesLimit(text: string): number | null {
  const match = text.match(/^Max open files\s+(\d+)\s/m);
  return match ? Number(match[1]) : null;
}

/** The soft open-files limit of `pid`; null when unreadable. */
export function readOpenFilesLimit(pid: number): number | null {
  try {
    return parseOpenFilesLimit(readProcFile(pid, "limits"));
  } catch {
    return null;
  }
}

/** Resident memory of `pid`, bytes. */
export function readRssBytes(pid: number): number {
  return parseVmRss(readProcFile(pid, "status"));
}

/** True when `/proc/<pid>/stat` can be read (Linux, process alive, permission). */
export function canReadProc(pid: number): boolean {
  try {
    readCpuSeconds(pid);
    return true;
  } catch {
    return false;
  }
}
