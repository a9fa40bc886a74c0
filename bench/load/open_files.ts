/**
 * How many idle connections a process's open-files limit (`ulimit -n`)
 * holds: the idle phases (idle_memory.ts) and their verdict (verdicts.ts)
 * check the count they are asked for against it. Its own module so the
 * verdicts need none of the phases' code.
 *
 * @module
 */

/** Open files a server keeps for itself (store, listeners, stdio, V8) under `ulimit -n`. */
export const RESERVED_FILES = 1000;

/**
 * Open files one idle connection holds in its server: its socket, and behind
 * a loopback pump (a guarded server, the pumped floor) both loopback ends too.
 */
export function filesPerIdleConnection(pumped: boolean): number {
  return pumped ? 3 : 1;
}

/** Largest idle connection count the open-files `limit` holds, {@link RESERVED_FILES} kept. */
export function idleConnectionCap(limit: number, pumped: boolean): number {
  return Math.max(0, Math.floor((limit - RESERVED_FILES) / filesPerIdleConnection(pumped)));
}

/** The warm connections an idle phase opens before the measured ones (idle_memory.ts). */
export const WARM_IDLE_CONNECTIONS = 200;

/** Whether an idle phase of `count` connections (and its warm ones) fits the open-files `limit`. */
export function idleFilesFit(limit: number, count: number, pumped: boolean): boolean {
  return count + Math.min(WARM_IDLE_CONNECTIONS, count) <= idleConnectionCap(limit, pumped);
}
