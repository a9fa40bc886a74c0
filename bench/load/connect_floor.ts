/**
 * The native floor of a handshake: what Deno's own TLS + HTTP upgrade +
 * WebSocket cost per new connection, with no CommuCat code. A storm of new
 * `wss://` connections to the raw relay (bench/load/relay_server.ts, TLS, same
 * certificate as the server), each doing what a CommuCat XK handshake does on
 * the wire: connect, two round trips of echoed messages the size of the
 * Hello/Auth and Auth/Ack, close. The relay's CPU seconds over the storm
 * divided by the connections is the floor per handshake; the handshake bound
 * target is then also given as it would be without that floor.
 *
 * @module
 */
import { LatencyHistogram } from "./stats.ts";

/** Sizes of the messages each floor connection sends (echoed back by the relay). */
export const FLOOR_MESSAGES = [
  // Hello (JSON, hex keys, ZKP) as the client sends it; the Auth reply is about as large.
  1_100,
  // XK message 3 (Auth); the Ack comes back.
  200,
] as const;

/** One relay connect storm. */
export interface ConnectFloorSummary {
  count: number;
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  latency: ReturnType<LatencyHistogram["summary"]>;
  /** Relay CPU seconds over the storm (null: not sampled). */
  relayCpuSeconds: number | null;
  /** Relay CPU-ms per connection: the floor of one handshake. */
  relayCpuMsPerConnection: number | null;
  firstError?: string;
}

/** Opens `count` connections to the echo relay `url`, `concurrency` at once. */
export async function relayConnectStorm(options: {
  url: string;
  caCerts: string[];
  count: number;
  concurrency: number;
  /** Reads the relay's CPU seconds (e.g. from /proc); null = not sampled. */
  relayCpu: () => number | null;
  progress?: (done: number, failed: number) => void;
}): Promise<ConnectFloorSummary> {
  const client = Deno.createHttpClient({ caCerts: options.caCerts });
  const latency = new LatencyHistogram();
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const payloads = FLOOR_MESSAGES.map((n) => new Uint8Array(n).fill(0x61));
  const one = async (i: number) => {
    const t0 = performance.now();
    const socket = new WebSocket(
      `${options.url}/?echo=1&group=floor-${i}`,
      { client } as unknown as string[],
    );
    socket.binaryType = "arraybuffer";
    try {
      const replies: ((data: unknown) => void)[] = [];
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error(`relay connect failed: ${options.url}`));
      });
      socket.onmessage = (event) => replies.shift()?.(event.data);
      for (const payload of payloads) {
        const reply = new Promise((resolve, reject) => {
          replies.push(resolve);
          socket.onclose = () => reject(new Error("relay closed the connection"));
        });
        socket.send(payload);
        await reply;
      }
      latency.record(performance.now() - t0);
      ok++;
    } catch (error) {
      failed++;
      firstError ??= error instanceof Error ? error.message : String(error);
    } finally {
      socket.close();
    }
    options.progress?.(ok, failed);
  };
  const cpu0 = options.relayCpu();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, options.count) }, async () => {
      while (next < options.count) await one(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // Let the relay finish the closes it was sent (they are part of each connection's cost).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cpu1 = options.relayCpu();
  client.close();
  const relayCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  return {
    count: options.count,
    ok,
    failed,
    seconds,
    perSecond: ok / seconds,
    latency: latency.summary(),
    relayCpuSeconds,
    relayCpuMsPerConnection: relayCpuSeconds !== null && ok > 0
      ? relayCpuSeconds / ok * 1000
      : null,
    firstError,
  };
}

/**
 * The handshake bound share with and without the floor: handshakes per
 * server CPU-second ÷ bound, and the same with the floor's CPU-ms taken off
 * each handshake (what our code and the primitives alone would reach).
 */
export function shareWithoutFloor(
  serverCpuMsPerHandshake: number,
  floorCpuMsPerConnection: number,
  boundPerSecond: number,
): { withFloor: number; withoutFloor: number } {
  const perCore = (ms: number) => 1000 / ms;
  return {
    withFloor: perCore(serverCpuMsPerHandshake) / boundPerSecond,
    withoutFloor: perCore(Math.max(1e-6, serverCpuMsPerHandshake - floorCpuMsPerConnection)) /
      boundPerSecond,
  };
}
