/**
 * What the in-process benches (inprocess_pairs.ts, inprocess_multipath.ts,
 * inprocess_handshakes.ts) share: long timers that never fire, the callgrind
 * gate, a POST to the server's API, and the V8 inspector's profilers.
 *
 * @module
 */
import { Session } from "node:inspector";
import type { RunningServer } from "../src/server/mod.ts";

/**
 * Makes every timer of 10 ms or more (keepalives, handshake timeouts, the
 * durable-copy sweep) never fire, so how slowly a run goes (valgrind) cannot
 * change what is done; short ones (turn-end flushes) still do. (×1000 was not
 * enough: a 600-round callgrind run outlived a 200 s sweep and stalled.)
 * Returns the real `setTimeout`.
 */
export function stretchLongTimers(): typeof setTimeout {
  const realSetTimeout = globalThis.setTimeout;
  const armTimer = realSetTimeout as (...args: unknown[]) => ReturnType<typeof setTimeout>;
  globalThis.setTimeout =
    ((callback: unknown, ms?: number, ...rest: unknown[]) =>
      armTimer(callback, (ms ?? 0) >= 10 ? 2 ** 31 - 1 : ms, ...rest)) as typeof setTimeout;
  return realSetTimeout;
}

/**
 * `--gate DIR`: writes DIR/`mark`, then waits for DIR/`until` (the
 * bench/callgrind_*.sh scripts turn instrumentation on and off around the
 * measured part). `sleep` must be a real timer (see {@link stretchLongTimers}).
 */
export async function gate(
  dir: string,
  mark: string,
  until: string,
  sleep: typeof setTimeout,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${mark}`, "");
  while (true) {
    try {
      await Deno.stat(`${dir}/${until}`);
      return;
    } catch {
      await new Promise((resolve) => sleep(resolve, 5));
    }
  }
}

/** POSTs `path` on the server's API with a bearer token; throws unless 2xx. */
export async function api(
  server: RunningServer,
  http: Deno.HttpClient,
  path: string,
  token: string,
): Promise<void> {
  const response = await fetch(`https://localhost:${server.addr.port}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    client: http,
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
}

/** A connected inspector session's `post` as a promise. */
export function inspectorPost(): (method: string, params?: object) => Promise<unknown> {
  const session = new Session();
  session.connect();
  return (method, params) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(
        method,
        params ?? {},
        (error: unknown, result: unknown) => error ? reject(error) : resolve(result),
      )
    );
}

/** Starts the V8 CPU profiler (`--profile`); the returned function stops it with the profile. */
export async function startProfiler(): Promise<() => Promise<unknown>> {
  const post = inspectorPost();
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  return async () => ((await post("Profiler.stop")) as { profile: unknown }).profile;
}
