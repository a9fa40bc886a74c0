/**
 * What the in-process benches (inprocess_pairs.ts, inprocess_multipath.ts,
 * inprocess_handshakes.ts) share: long timers that never fire, the callgrind
 * gate, the server they start and its clients' options, a POST to the
 * server's API and befriending a pair through it, and the V8 inspector's
 * profilers.
 *
 * @module
 */
import { Session } from "node:inspector";
import process from "node:process";
import type { ClientOptions, CommuCatClient } from "../src/client/mod.ts";
import { type Logger, silentLogger } from "../src/log/mod.ts";
import { defaultSettings, type RunningServer, startServer } from "../src/server/mod.ts";

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
      // A slow poll: the script turns instrumentation on before `go` and off after `done`, and
      // every poll in between is counted (a 5 ms poll added ~100 of them per run).
      await new Promise((resolve) => sleep(resolve, 1000));
    }
  }
}

/** Warnings and errors on stderr: either would mean the run is not the path it claims to measure. */
export const warningsToStderr: Logger = {
  ...silentLogger,
  warn: (m, f) => console.error(m, f),
  error: (m, f) => console.error(m, f),
};

/** A server whose API a bench calls, with the HTTPS client for it. */
export type ApiSide = Pick<BenchServer, "server" | "http">;

/** The server a bench measures, with an HTTPS client for its API. */
export interface BenchServer {
  readonly server: RunningServer;
  readonly http: Deno.HttpClient;
  /** Stops the server and removes its data directory. */
  close(): Promise<void>;
}

/**
 * Starts the real server on an ephemeral port with its own data directory:
 * classical sessions only (as the pairs scenario: no hybrid-cost measurement
 * at start) and no web client.
 */
export async function startBenchServer(
  log: Logger = warningsToStderr,
  prefix = "commucat-inprocess-",
): Promise<BenchServer> {
  const dataDir = await Deno.makeTempDir({ prefix });
  const server = await startServer(
    defaultSettings({
      hostname: "127.0.0.1",
      port: 0,
      dataDir,
      sqlitePath: `${dataDir}/commucat.db`,
      pq: "off",
      webClient: false,
    }),
    log,
  );
  const http = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  return {
    server,
    http,
    async close() {
      http.close();
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A bench client's options: device `${prefix}-${n}` (handle `${prefix}_${n}`),
 * classical, `websocket` mode over the channel `channel` makes (an in-memory pipe).
 */
export function clientOptions(
  server: RunningServer,
  prefix: string,
  n: number,
  privateKey: Uint8Array,
  channel: ClientOptions["webSocketChannel"],
): ClientOptions {
  return {
    url: `https://localhost:${server.addr.port}`,
    mode: "websocket",
    domain: server.domain,
    serverStatic: server.noiseKey().publicKey,
    deviceId: `${prefix}-${n}`,
    devicePrivateKey: privateKey,
    user: { handle: `${prefix}_${n}` },
    pq: "off",
    webSocketChannel: channel,
  };
}

/**
 * Makes `a` and `b` friends over the API, has `a` open `channel` with device
 * `bDevice`, then sends one `payloadBytes` message each way. The first message
 * each way checks reachability (then cached) and holds its sender's next
 * frames until the copy is acknowledged: one way at a time, or the two wait on
 * each other until the window's sweep (which never fires here); it also keeps
 * the set-up, and so the measured rounds, as in older counts (issue 18).
 * `b` accepts on `bBench`'s API when it is connected to another server
 * (cluster: the instance it is on).
 */
export async function befriend(
  bench: ApiSide,
  a: CommuCatClient,
  b: CommuCatClient,
  channel: number,
  bDevice: string,
  payloadBytes: number,
  bBench: ApiSide = bench,
): Promise<void> {
  const { server, http } = bench;
  await api(server, http, `/api/friends/requests/${b.session.userId}`, a.session.sessionId);
  await api(
    bBench.server,
    bBench.http,
    `/api/friends/requests/${a.session.userId}/accept`,
    b.session.sessionId,
  );
  await a.join(channel, [bDevice]);
  const payload = new Uint8Array(payloadBytes);
  a.send(channel, payload).catch(() => {});
  await b.next();
  b.send(channel, payload).catch(() => {});
  await a.next();
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

/** A profile of the measured rounds: started just before them, written to `file` after. */
export interface RoundsProfile {
  file: string;
  /** Starts the profiler; the returned function stops it and gives the profile. */
  start(): Promise<() => Promise<unknown>>;
}

/** Options of {@link measureRounds}. */
export interface MeasureRoundsOptions {
  warm: number;
  rounds: number;
  /** `--gate DIR`: "ready"/"go" before the measured rounds, "done"/"end" after (callgrind). */
  gate?: string;
  /** The timer {@link stretchLongTimers} returned (the gate polls with it). */
  realSetTimeout: typeof setTimeout;
  /** Runs between the warm-up and the measured rounds (reset the counters). */
  afterWarm?: () => void;
  /** Profiles taken over the measured rounds, started and written in this order. */
  profiles?: readonly (RoundsProfile | null)[];
}

/**
 * The measured part of an in-process bench: `warm` rounds, `afterWarm`, the
 * gate, the profiles, `rounds` timed rounds, the profiles written, the gate.
 * Returns the wall time (ms) and the process CPU (µs) of the timed rounds.
 */
export async function measureRounds(
  round: () => Promise<void>,
  o: MeasureRoundsOptions,
): Promise<{ ms: number; cpu: { user: number; system: number } }> {
  for (let r = 0; r < o.warm; r++) await round();
  o.afterWarm?.();
  if (o.gate) await gate(o.gate, "ready", "go", o.realSetTimeout);
  const profiles = (o.profiles ?? []).filter((p): p is RoundsProfile => p !== null);
  const stops: (() => Promise<unknown>)[] = [];
  for (const profile of profiles) stops.push(await profile.start());
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let r = 0; r < o.rounds; r++) await round();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  for (let i = 0; i < profiles.length; i++) {
    await Deno.writeTextFile(profiles[i].file, JSON.stringify(await stops[i]()));
  }
  if (o.gate) await gate(o.gate, "done", "end", o.realSetTimeout);
  return { ms, cpu: used };
}
