/**
 * Scenario `transports`: bulk throughput through each client transport
 * against the same server in the same run — direct TLS and through the
 * server's Shadowsocks listener (the SDK's own Shadowsocks client: an
 * in-process SOCKS5 bridge sealing SIP004 chunks) — so the ratio compares
 * like with like. Two figures per path:
 *
 * - **download**: an avatar file (`uploads.max_bytes_per_user`, 5 MiB)
 *   fetched over and over with the route's HTTP client: HTTP bytes down
 *   through the listener, where the transport itself is the bound;
 * - **messages**: one 1:1 session pair, both devices on the transport, the
 *   sender keeping a window of 16 KiB messages in flight (every byte crosses
 *   the transport twice, and the router and store are in the path).
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

/** One measured window. */
export interface BulkRate {
  bytesPerSecond: number;
  seconds: number;
  /** Server CPU seconds in the measured window; null when /proc was unreadable. */
  serverCpuSeconds: number | null;
  /** Bytes per server CPU second. */
  bytesPerServerCpuSecond: number | null;
  /** Client CPU seconds per wall second (this process: the client and any bridge). */
  clientCores: number;
}

/** One transport's bulk throughput. */
export interface TransportThroughput {
  transport: string;
  /** HTTP download of a 5 MiB file, repeated. */
  download: BulkRate;
  /** Delivered 16 KiB messages of one session pair. */
  messages: BulkRate;
}

/** What scenario `transports` measured. */
export interface TransportsSummary {
  messageBytes: number;
  window: number;
  fileBytes: number;
  direct: TransportThroughput;
  shadowsocks: TransportThroughput;
}

/** Where the server's Shadowsocks listener is. */
export interface ShadowsocksTarget {
  server: string;
  method: ShadowsocksMethod;
  password: string;
}

/** The downloaded file: the default per-user avatar quota. */
export const TRANSPORT_FILE_BYTES = 5 * 1024 * 1024;

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

/** Measures `work` (which counts bytes) over the measured window, after the warm-up. */
async function window(
  o: TransportsOptions,
  run: (counting: () => boolean, count: (bytes: number) => void) => Promise<void>,
): Promise<BulkRate> {
  let counting = false;
  let running = true;
  let bytes = 0;
  const working = run(() => running, (n) => {
    if (counting) bytes += n;
  });
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
  await working;
  return {
    bytesPerSecond: bytes / seconds,
    seconds,
    serverCpuSeconds: serverCpu,
    bytesPerServerCpuSecond: serverCpu ? bytes / serverCpu : null,
    clientCores,
  };
}

/** A PNG-typed file of `size` random bytes (the avatar endpoint checks the magic only). */
function avatarBytes(size: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(size);
  for (let off = 0; off < size; off += 65_536) {
    crypto.getRandomValues(data.subarray(off, Math.min(size, off + 65_536)));
  }
  data.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return data;
}

async function download(o: TransportsOptions, client: CommuCatClient): Promise<BulkRate> {
  const { url, httpClient } = client.reachedVia;
  const upload = await fetch(`${url}/api/users/me/avatar`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${client.session.sessionId}`,
      "content-type": "image/png",
    },
    body: avatarBytes(TRANSPORT_FILE_BYTES),
    client: httpClient,
  });
  const uploaded = await upload.json() as { filename?: string };
  if (!upload.ok || !uploaded.filename) {
    throw new Error(`avatar upload: HTTP ${upload.status} ${JSON.stringify(uploaded)}`);
  }
  return await window(o, async (running, count) => {
    while (running()) {
      const response = await fetch(`${url}/uploads/${uploaded.filename}`, { client: httpClient });
      for await (const chunk of response.body!) count(chunk.length);
    }
  });
}

async function messages(
  o: TransportsOptions,
  sender: CommuCatClient,
  receiver: CommuCatClient,
  channel: number,
): Promise<BulkRate> {
  const payload = crypto.getRandomValues(new Uint8Array(o.messageBytes));
  return await window(o, async (running, count) => {
    let inFlight = 0;
    let wake = null as (() => void) | null;
    // Msg frames without awaiting each Ack: the window is the receiver's deliveries.
    const pump = async () => {
      while (running()) {
        while (running() && inFlight < o.window) {
          inFlight++;
          sender.request(FrameType.Msg, channel, payload).catch(() => {});
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    const receive = (async () => {
      for (;;) {
        const frame = await receiver.next();
        if (!frame) return;
        if (frame.type !== FrameType.Msg) continue;
        count(frame.payload.length);
        inFlight--;
        wake?.();
        if (!running() && inFlight <= 0) return;
      }
    })();
    const pumping = pump();
    // Stop when the window ends: the pump's wait is woken by the next delivery.
    while (running()) await new Promise((resolve) => setTimeout(resolve, 50));
    wake?.();
    await pumping;
    // What is in flight drains (bounded), then the receiver stops.
    await Promise.race([receive, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  });
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
    o.progress(`transports: ${transport.label}: download`);
    const down = await download(o, receiver);
    o.progress(`transports: ${transport.label}: messages`);
    const msgs = await messages(o, sender, receiver, channel);
    return { transport: transport.label, download: down, messages: msgs };
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
  const direct = await measureOne(o, new DirectTransport(), channelBase);
  const shadowsocks = await measureOne(o, new ShadowsocksTransport(o.shadowsocks), channelBase + 1);
  return {
    messageBytes: o.messageBytes,
    window: o.window,
    fileBytes: TRANSPORT_FILE_BYTES,
    direct,
    shadowsocks,
  };
}
