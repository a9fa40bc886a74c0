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
  name: "stat" | "status" | "schedstat" | "limits" | "maps",
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

/**
 * Reads `/proc` files without blocking the event loop: straight with
 * `Deno.readTextFile` when the permissions allow it, else through one shell
 * started up front that answers each path with the file's lines using its
 * builtins only (no process per read). {@link readProcFile}'s `cat` spawned
 * synchronously costs ~5 ms of the caller's event loop per file on this VM;
 * the load tool read four at each edge of a measured window, so the window's
 * first deliveries waited for them (perf-p99 notes, round 8).
 */
export class ProcReader {
  #shell: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  /** Answers still owed by the shell, in the order asked. */
  #waiting: ((text: string | null) => void)[] = [];

  private constructor() {}

  /** A reader; call {@link close} when done. */
  static open(): ProcReader {
    const reader = new ProcReader();
    try {
      Deno.readTextFileSync(`/proc/${Deno.pid}/stat`);
      return reader;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
    }
    // Each path in, its lines out, then RS (\036) — or NAK (\025) when unreadable.
    const script = `while IFS= read -r p; do
  if [ -r "$p" ]; then
    while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < "$p"; printf '\\036\\n'
  else printf '\\025\\n'; fi
done`;
    const shell = new Deno.Command("sh", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    reader.#shell = shell;
    reader.#writer = shell.stdin.getWriter();
    void reader.#readAnswers(shell.stdout);
    return reader;
  }

  /** `/proc/<pid>/<name>`'s text; null when it cannot be read. */
  read(pid: number, name: "stat" | "status" | "schedstat"): Promise<string | null> {
    const path = `/proc/${pid}/${name}`;
    if (this.#writer === null) return Deno.readTextFile(path).catch(() => null);
    const answer = new Promise<string | null>((resolve) => this.#waiting.push(resolve));
    this.#writer.write(new TextEncoder().encode(`${path}\n`)).catch(() => {});
    return answer;
  }

  /** CPU seconds of `pid` (null when unreadable). */
  async cpuSeconds(pid: number): Promise<number | null> {
    const text = await this.read(pid, "stat");
    try {
      return text === null ? null : cpuSecondsOf(parseProcStat(text));
    } catch {
      return null;
    }
  }

  /** Run-queue wait of `pid`'s main thread, seconds (null when unreadable). */
  async runQueueWaitSeconds(pid: number): Promise<number | null> {
    const text = await this.read(pid, "schedstat");
    try {
      return text === null ? null : parseSchedstatWait(text);
    } catch {
      return null;
    }
  }

  /** Ends the shell (if one was started); reads still owed answer null. */
  async close(): Promise<void> {
    const shell = this.#shell;
    if (shell === null) return;
    this.#shell = null;
    await this.#writer?.close().catch(() => {});
    this.#writer = null;
    await shell.status;
  }

  async #readAnswers(stdout: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    let lines: string[] = [];
    for await (const chunk of stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line === "\x1e" || line === "\x15") {
          this.#waiting.shift()?.(line === "\x1e" ? lines.join("\n") + "\n" : null);
          lines = [];
        } else lines.push(line);
      }
    }
    for (const resolve of this.#waiting.splice(0)) resolve(null);
  }
}
