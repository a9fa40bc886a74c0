/**
 * Counts a server's TCP sockets by state from the kernel's tables (Linux
 * `/proc/net/tcp{,6}`): the sockets whose local port is the server's.
 */

/** TCP states as the kernel numbers them (include/net/tcp_states.h). */
export const TcpState = {
  established: "01",
  closeWait: "08",
} as const;

/** Server-side sockets (local port `port`) in `state`. */
export function serverSockets(port: number, state: string): number {
  const suffix = ":" + port.toString(16).toUpperCase().padStart(4, "0");
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue; // no IPv6 table
    }
    for (const line of text.split("\n").slice(1)) {
      const [, local, , st] = line.trim().split(/\s+/);
      if (local?.endsWith(suffix) && st === state) count++;
    }
  }
  return count;
}

/** True when this machine exposes the kernel's TCP tables (the socket tests need them). */
export function haveTcpTables(): boolean {
  try {
    Deno.statSync("/proc/net/tcp");
    return true;
  } catch {
    return false;
  }
}

/** Polls `read` until it returns `want`, at most `ms`; returns the last value read. */
export async function settlesTo(read: () => number, want: number, ms = 10_000): Promise<number> {
  const until = Date.now() + ms;
  let value = read();
  while (value !== want && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = read();
  }
  return value;
}
