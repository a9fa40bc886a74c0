/**
 * Scenario `transports`: bulk throughput of one 1:1 session pair through
 * each client transport against the same server in the same run — direct TLS
 * and through the server's Shadowsocks listener (the SDK's own Shadowsocks
 * client: an in-process SOCKS5 bridge sealing SIP004 chunks) — so the ratio
 * compares like with like. Both devices of a pair use the transport under
 * test, so every byte crosses it twice (up from the sender, down to the
 * receiver). The sender keeps a window of large messages in flight; the
 * receiver's deliveries return its credit.
 *
 * @module
 */
import {
  type ClientTransport,
  type CommuCatClient,
  connectThroughTransports,
} from "../../src/client/mod.ts";
import { DirectTransport, ShadowsocksTransport } from "../../src/client/transports/mod.ts";
import { fromHex, generateDeviceKeys } from "../../src/crypto/mod.ts";
import type { ShadowsocksMethod } from "../../src/crypto/shadowsocks/mod.ts";
import { FrameType } from "../../src/proto/mod.ts";
import type { TargetJson } from "./agent.ts";
import { canReadProc, readCpuSeconds, selfCpuSeconds } from "./procfs.ts";

/** One transport's bulk throughput. */
export interface TransportThroughput {
  transport: string;
  /** Payload bytes delivered to the receiver per wall second. */
  bytesPerSecond: number;
  messages: number;
  seconds: number;
  /** Server CPU seconds in the measured window; null when /proc was unreadable. */
  serverCpuSeconds: number | null;
  /** Delivered payload bytes per server CPU second. */
  bytesPerServerCpuSecond: number | null;
  /** Client CPU seconds per wall second (this process: both devices and any bridge). */
  clientCores: number;
}

/** What scenario `transports` measured. */
export interface TransportsSummary {
  messageBytes: number;
  window: number;
  direct: TransportThroughput;
  shadowsocks: TransportThroughput;
}

/** Where the server's Shadowsocks listener is. */
export interface ShadowsocksTarget {
  server: string;
  method: ShadowsocksMethod;
  password: string;
}

/** Payload of each bulk message (two SIP004 chunks of the Shadowsocks path). */
export const TRANSPORT_MESSAGE_BYTES = 16 * 1024;

/** Bulk messages in flight: enough that the pipe, not the round trip, bounds the rate. */
export const TRANSPORT_WINDOW = 32;

/** A Shadowsocks listener for the spawned server of scenario `transports` (loopback, fresh password). */
export function benchShadowsocks(): ShadowsocksTarget {
  return {
    server: `127.0.0.1:${freePort()}`,
    method: "chacha20-ietf-poly1305",
    password: crypto.randomUUID(),
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The environment that gives a spawned `commucat serve` this listener. */
export function shadowsocksEnv(ss: ShadowsocksTarget): Record<string, string> {
  return {
    COMMUCAT_SHADOWSOCKS_BIND: ss.server,
    COMMUCAT_SHADOWSOCKS_METHOD: ss.method,
    COMMUCAT_SHADOWSOCKS_PASSWORD: ss.password,
  };
}

/** Options of {@link measureTransports}. */
export interface TransportsOptions {
  target: TargetJson;
  shadowsocks: ShadowsocksTarget;
  serverPid?: number;
  messageBytes: number;
  window: number;
  warmupMs: number;
  durationMs: number;
  progress: (line: string) => void;
}

async function connectVia(target: TargetJson, transport: ClientTransport, handle: string) {
  const keys = generateDeviceKeys();
  const { client } = await connectThroughTransports(
    {
      url: target.url,
      domain: target.domain,
      serverStatic: fromHex(target.noisePublicHex, 32),
      pq: "off",
      deviceId: `${handle}-device`,
      devicePrivateKey: keys.privateKey,
      user: { handle },
      caCerts: [target.certificatePem],
      timeoutMs: 60_000,
    },
    [transport],
    { attemptTimeoutMs: 60_000 },
  );
  return client;
}

/** Friendship both ways through each side's own route (REST rides the transport too). */
async function befriend(a: CommuCatClient, b: CommuCatClient): Promise<void> {
  const post = async (as: CommuCatClient, path: string) => {
    const response = await fetch(`${as.reachedVia.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${as.session.sessionId}` },
      client: as.reachedVia.httpClient,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status} ${text}`);
  };
  await post(a, `/api/friends/requests/${b.session.userId}`);
  await post(b, `/api/friends/requests/${a.session.userId}/accept`);
}

async function measureOne(
  o: TransportsOptions,
  transport: ClientTransport,
  channel: number,
): Promise<TransportThroughput> {
  const tag = crypto.randomUUID().slice(0, 8);
  const sender = await connectVia(o.target, transport, `bulk_a_${tag}`);
  const receiver = await connectVia(o.target, transport, `bulk_b_${tag}`);
  try {
    await befriend(sender, receiver);
    await sender.join(channel, [`bulk_b_${tag}-device`]);
    const payload = crypto.getRandomValues(new Uint8Array(o.messageBytes));
    let inFlight = 0;
    let running = true;
    let wake = null as (() => void) | null;
    // Sends as Msg frames without awaiting each Ack: the window is the receiver's deliveries.
    const pump = async () => {
      while (running) {
        while (running && inFlight < o.window) {
          inFlight++;
          sender.request(FrameType.Msg, channel, payload).catch(() => {});
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    let counting = false;
    let delivered = 0;
    const receive = (async () => {
      for (;;) {
        const frame = await receiver.next();
        if (!frame) return;
        if (frame.type !== FrameType.Msg) continue;
        if (counting) delivered++;
        inFlight--;
        wake?.();
        if (!running && inFlight <= 0) return;
      }
    })();
    const pumping = pump();
    await new Promise((resolve) => setTimeout(resolve, o.warmupMs));
    const cpuOk = o.serverPid !== undefined && canReadProc(o.serverPid);
    const server0 = cpuOk ? readCpuSeconds(o.serverPid!) : 0;
    const client0 = selfCpuSeconds();
    const t0 = performance.now();
    counting = true;
    await new Promise((resolve) => setTimeout(resolve, o.durationMs));
    counting = false;
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = cpuOk ? readCpuSeconds(o.serverPid!) - server0 : null;
    const clientCores = (selfCpuSeconds() - client0) / seconds;
    running = false;
    wake?.();
    await pumping;
    // What is in flight drains (bounded), then the receiver stops.
    await Promise.race([receive, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    const bytes = delivered * o.messageBytes;
    return {
      transport: transport.label,
      bytesPerSecond: bytes / seconds,
      messages: delivered,
      seconds,
      serverCpuSeconds: serverCpu,
      bytesPerServerCpuSecond: serverCpu ? bytes / serverCpu : null,
      clientCores,
    };
  } finally {
    sender.close();
    receiver.close();
    await Promise.all([sender.finished, receiver.finished]);
  }
}

/** Runs direct TLS, then Shadowsocks, against the same server. */
export async function measureTransports(
  o: TransportsOptions,
  channelBase: number,
): Promise<TransportsSummary> {
  o.progress("transports: direct TLS bulk");
  const direct = await measureOne(o, new DirectTransport(), channelBase);
  o.progress("transports: Shadowsocks bulk");
  const shadowsocks = await measureOne(o, new ShadowsocksTransport(o.shadowsocks), channelBase + 1);
  return { messageBytes: o.messageBytes, window: o.window, direct, shadowsocks };
}
