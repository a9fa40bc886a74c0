/**
 * Counts a process's system calls over a measured window with `perf stat`
 * on the `syscalls:sys_enter_*` tracepoints (every thread of the process):
 * on a machine shared with other work, CPU time per message moves with the
 * neighbours, the number of calls per message does not.
 *
 * @module
 */
import type { MeasureHooks } from "./traffic_window.ts";

/** The calls counted by default: the socket I/O of Deno's runtime and its event loop. */
export const SOCKET_SYSCALLS: readonly string[] = [
  "recvfrom",
  "sendto",
  "read",
  "write",
  "writev",
  "epoll_wait",
  "futex",
];

/** Parses `perf stat -x ,` output: counts by syscall name (tracepoints `syscalls:sys_enter_<name>`). */
export function parsePerfStatCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [value, , event] = line.split(",");
    const name = event?.startsWith("syscalls:sys_enter_")
      ? event.slice("syscalls:sys_enter_".length)
      : undefined;
    const n = Number(value);
    if (name && Number.isFinite(n)) counts[name] = n;
  }
  return counts;
}

/**
 * Measure hooks that count `pid`'s `syscalls` from the window's start to its
 * end; `counts()` answers after the phase (empty when perf could not run).
 */
export function syscallCounter(
  pid: number,
  syscalls: readonly string[] = SOCKET_SYSCALLS,
): { hooks: MeasureHooks; counts: () => Record<string, number> } {
  let child: Deno.ChildProcess | null = null;
  let counts: Record<string, number> = {};
  return {
    hooks: {
      start() {
        try {
          child = new Deno.Command("perf", {
            args: [
              "stat",
              "-x",
              ",",
              ...syscalls.flatMap((s) => ["-e", `syscalls:sys_enter_${s}`]),
              "-p",
              String(pid),
            ],
            stdout: "null",
            stderr: "piped",
          }).spawn();
        } catch {
          child = null; // no perf: no counts
        }
      },
      end() {
        try {
          child?.kill("SIGINT");
        } catch { /* ended */ }
      },
      async stop() {
        if (!child) return;
        counts = parsePerfStatCounts(new TextDecoder().decode((await child.output()).stderr));
        child = null;
      },
    },
    counts: () => counts,
  };
}
