/**
 * A load agent: the client side of the load generator. It opens sessions
 * (CommuCat through the client SDK, or raw WebSockets to the baseline
 * relay) with bounded concurrency, forms groups, and runs traffic phases and
 * handshake storms. Every command and result is plain JSON, so the same
 * agent runs in the CLI process or in a worker process (see worker.ts).
 *
 * @module
 */
import { CommuCatClient } from "../../src/client/mod.ts";
import { fromHex, generateDeviceKeys, sessionPattern } from "../../src/crypto/mod.ts";
import { FrameType } from "../../src/proto/mod.ts";
import { type RaptorqCodec, raptorqCodec } from "../../src/multipath/mod.ts";
import type { ConnectMode } from "../../src/transport/mod.ts";
import { RELAY_ACK_LENGTH } from "./relay_server.ts";
import { type HistogramJson, LatencyHistogram } from "./stats.ts";
import { type LoadConn, type PhaseResult, type PhaseSpec, TrafficEngine } from "./traffic.ts";
import { noDelayChannelOpener } from "./ws_channel.ts";
import { connectNoDelayWebSocket } from "./ws_client.ts";

/**
 * The client's WebSocket: `deno-nodelay` (the platform's `WebSocket` in a
 * worker process whose TCP_NODELAY requests nodelay_shim.ts turns on: the
 * default, so a delivery's latency has no client-side Nagle wait in it; to
 * the agent it is `deno`), `deno` (the platform's `WebSocket`, Nagle on:
 * denoland/deno#35581) or `nodelay` (ws_client.ts, RFC 6455 in TypeScript
 * over `Deno.connect` with TCP_NODELAY on; slower on the client).
 */
export type ClientWebSocket = "deno-nodelay" | "nodelay" | "deno";

/** The client WebSocket kinds (`--client-websocket`). */
export const CLIENT_WEBSOCKETS: readonly ClientWebSocket[] = ["deno-nodelay", "deno", "nodelay"];

/** A raw receiver's delivery ack to the relay with acks (any bytes of that length). */
const DELIVERY_ACK = new Uint8Array(RELAY_ACK_LENGTH);

/** The server under load, as JSON. */
export interface TargetJson {
  url: string;
  domain: string;
  noisePublicHex: string;
  certificatePem: string;
  /** The server's ML-DSA-65 key (server-info `post_quantum.signing_public`), for hybrid patterns. */
  pqPublicHex?: string;
}

/** Commands an agent understands. */
export type AgentCommand =
  | {
    cmd: "openGroups";
    target: TargetJson;
    mode: ConnectMode;
    pattern: string;
    groups: number;
    groupSize: number;
    channelBase: number;
    concurrency: number;
    /** Voice instead of messages: each group holds a call and sends 20 ms Opus-sized VoiceFrames. */
    media?: boolean;
    /** Multipath sessions: these paths besides the first (RaptorQ in one Worker per agent). */
    paths?: ConnectMode[];
    /**
     * Instances of one deployment: member m of each group connects to
     * `targets[m % length]` (scenario `cluster`: sender and receiver on
     * different instances); absent = every member on `target`.
     */
    targets?: TargetJson[];
  }
  | {
    cmd: "openRawGroups";
    url: string;
    caCerts?: string[];
    groups: number;
    groupSize: number;
    /** Relay with acks (relay_server.ts `?acks=1`): ack each delivery, ignore the relay's acks. */
    acks?: boolean;
  }
  | { cmd: "phase"; spec: PhaseSpec }
  | {
    cmd: "handshakeStorm";
    target: TargetJson;
    mode: ConnectMode;
    pattern: string;
    count: number;
    concurrency: number;
  }
  | { cmd: "reconnectStorm"; concurrency: number }
  | { cmd: "openIdle"; target: TargetJson; mode: ConnectMode; count: number; concurrency: number }
  | {
    cmd: "openRawIdle";
    url: string;
    caCerts?: string[];
    count: number;
    concurrency: number;
    /** After the upgrade, send each `send` bytes and wait for the relay's answer (the floor's handshake). */
    exchange?: readonly { send: number; reply: number }[];
    /** The relay's `idleTimeout` for these sockets, seconds (the server's liveness; 0 = off). */
    idleSeconds?: number;
  }
  | { cmd: "closeIdle" }
  | { cmd: "closeGroups" };

/** Result of opening sessions or of a storm. */
export interface OpenResult {
  ok: number;
  failed: number;
  seconds: number;
  /** Time from starting a connect to its established session. */
  handshakeLatency: HistogramJson;
  /** The first failure's message, if any. */
  firstError?: string;
}

/** Reports progress of a long command (sessions opened so far). */
export type Progress = (done: number, failed: number) => void;

interface Device {
  deviceId: string;
  privateKey: Uint8Array;
  handle: string;
}

/** Endpoint counters summed over an agent's multipath sessions (client side). */
export interface MultipathCounters {
  sessions: number;
  /** Units sent, and of them sent again after a timeout or a path change. */
  sent: number;
  retransmitted: number;
  /** Units that arrived more than once (the second copy, a resent unit). */
  duplicates: number;
}

function multipathCounters(sessions: Session[]): MultipathCounters | null {
  const sum: MultipathCounters = { sessions: 0, sent: 0, retransmitted: 0, duplicates: 0 };
  for (const session of sessions) {
    const stats = session.client?.multipath?.stats;
    if (!stats) continue;
    sum.sessions++;
    sum.sent += stats.sent;
    sum.retransmitted += stats.retransmitted;
    sum.duplicates += stats.duplicates;
  }
  return sum.sessions > 0 ? sum : null;
}

interface Session {
  device: Device;
  channel: number;
  client: CommuCatClient | null;
  conn: SessionConn;
}

/** A CommuCat session as a {@link LoadConn}; the client can be swapped after a reconnect. */
class SessionConn implements LoadConn {
  onMessage: ((payload: Uint8Array) => void) | null = null;
  client: CommuCatClient | null = null;
  /** Sends VoiceFrames (the payload behind the 3-byte media header) instead of Msg. */
  media = false;
  constructor(readonly channel: number, readonly onError: () => void) {}

  attach(client: CommuCatClient): void {
    this.client = client;
    // Each delivery in the turn that read it (no promise per frame through `next()`): the
    // receipt time is taken there, as with the raw relay's sockets.
    client.setDeliveryHandler((frame) => {
      if (frame.type === FrameType.Msg) this.onMessage?.(frame.payload);
      else if (frame.type === FrameType.VoiceFrame) this.onMessage?.(frame.payload.subarray(3));
    });
  }

  send(payload: Uint8Array): void {
    const client = this.client;
    if (!client || client.closed) return this.onError();
    if (this.media) {
      // Encoded Opus (source 0, codec 0): what the SFU forwards as it is.
      const voice = new Uint8Array(3 + payload.length);
      voice.set([1, 0, 0]);
      voice.set(payload, 3);
      client.request(FrameType.VoiceFrame, this.channel, voice).catch(this.onError);
      return;
    }
    client.send(this.channel, payload).catch(this.onError);
  }

  close(): void {
    this.client?.close();
  }
}

let deviceCounter = 0;
const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

function newDevice(): Device {
  const keys = generateDeviceKeys();
  const n = `${runId}${(deviceCounter++).toString(36)}`;
  return { deviceId: `load-${n}`, privateKey: keys.privateKey, handle: `load_${n}` };
}

/** Runs `count` jobs with at most `concurrency` at once. */
export async function boundedAll(
  count: number,
  concurrency: number,
  job: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
}

/** Long-lived HTTP/2 streams per shared HTTP client (well under a server's concurrent-stream cap). */
const STREAMS_PER_CLIENT = 48;

/** The state and commands of one agent. */
export class LoadAgent {
  #httpClients = new Map<string, Deno.HttpClient>();
  #sessions: Session[] = [];
  #idle: CommuCatClient[] = [];
  #raw: { close(): void }[] = [];
  #engine: TrafficEngine | null = null;
  #target: TargetJson | null = null;
  #mode: ConnectMode = "websocket";
  #pattern: string = "XK";
  readonly #webSocket: ClientWebSocket;
  /** One opener per server certificate (the `nodelay` client's `webSocketChannel`). */
  #openers = new Map<string, ReturnType<typeof noDelayChannelOpener>>();

  constructor(options: { webSocket?: ClientWebSocket } = {}) {
    this.#webSocket = options.webSocket ?? "deno";
  }

  /** Runs one command; `progress` hears about sessions opened. */
  async run(command: AgentCommand, progress: Progress = () => {}): Promise<unknown> {
    switch (command.cmd) {
      case "openGroups":
        return await this.#openGroups(command, progress);
      case "openRawGroups":
        return await this.#openRawGroups(command);
      case "phase":
        if (!this.#engine) throw new Error("no groups open");
        return await this.#engine.run(command.spec) satisfies PhaseResult;
      case "handshakeStorm":
        return await this.#handshakeStorm(command, progress);
      case "reconnectStorm":
        return await this.#reconnectStorm(command.concurrency, progress);
      case "openIdle":
        return await this.#openIdle(command, progress);
      case "openRawIdle":
        return await this.#openRawIdle(command, progress);
      case "closeIdle":
        for (const client of this.#idle.splice(0)) client.close();
        return null;
      case "closeGroups": {
        const paths = multipathCounters(this.#sessions);
        for (const session of this.#sessions.splice(0)) session.conn.close();
        for (const socket of this.#raw.splice(0)) socket.close();
        this.#engine = null;
        return paths;
      }
    }
  }

  /** Closes everything, including HTTP clients. */
  close(): void {
    for (const session of this.#sessions) session.conn.close();
    for (const client of this.#idle) client.close();
    for (const socket of this.#raw) socket.close();
    for (const client of this.#httpClients.values()) client.close();
  }

  #opener(pem: string) {
    if (this.#webSocket !== "nodelay") return undefined;
    let opener = this.#openers.get(pem);
    if (!opener) this.#openers.set(pem, opener = noDelayChannelOpener([pem]));
    return opener;
  }

  #httpClient(pem: string, streams = 0): Deno.HttpClient {
    // Long-lived HTTP/2 streams (binary and SSE paths, long-poll) share a client's one connection,
    // whose concurrent streams the server caps: past the cap a new session's stream waits for
    // ever (100 three-path sessions did). So at most STREAMS_PER_CLIENT of them per client.
    const bucket = streams > 0 ? Math.floor(this.#streams / STREAMS_PER_CLIENT) : 0;
    this.#streams += streams;
    const key = `${bucket}\n${pem}`;
    let client = this.#httpClients.get(key);
    if (!client) {
      client = Deno.createHttpClient({ caCerts: [pem] });
      this.#httpClients.set(key, client);
    }
    return client;
  }

  /** Long-lived streams handed to HTTP clients so far. */
  #streams = 0;

  #fec: RaptorqCodec | null = null;

  async #connect(
    target: TargetJson,
    device: Device,
    mode: ConnectMode,
    pattern: string,
    paths?: ConnectMode[],
  ) {
    const multipath = paths && paths.length > 0;
    const client = await CommuCatClient.connect({
      paths,
      fec: multipath ? (this.#fec ??= raptorqCodec("worker")) : undefined,
      url: target.url,
      mode,
      pattern,
      domain: target.domain,
      serverStatic: fromHex(target.noisePublicHex, 32),
      // Exactly the pattern asked for: a classical one stays classical even with a pin.
      pq: sessionPattern(pattern).hybrid ? "require" : "off",
      serverPqPublic: target.pqPublicHex ? fromHex(target.pqPublicHex) : undefined,
      deviceId: device.deviceId,
      devicePrivateKey: device.privateKey,
      user: { handle: device.handle },
      httpClient: this.#httpClient(
        target.certificatePem,
        [mode, ...(paths ?? [])].filter((m) => m !== "websocket").length,
      ),
      webSocketChannel: this.#opener(target.certificatePem),
      timeoutMs: 60_000,
    });
    // Measured with every path up.
    if (multipath) await client.multipath?.waitForPaths(1 + paths.length, 60_000);
    return client;
  }

  /** Connects `devices` with bounded concurrency; `keep` receives each established client. */
  async #connectAll(
    target: TargetJson | ((index: number) => TargetJson),
    devices: Device[],
    options: { mode: ConnectMode; pattern: string; concurrency: number; paths?: ConnectMode[] },
    keep: (index: number, client: CommuCatClient) => void,
    progress: Progress,
  ): Promise<OpenResult> {
    const latency = new LatencyHistogram();
    let ok = 0;
    let failed = 0;
    let firstError: string | undefined;
    const started = performance.now();
    await boundedAll(devices.length, options.concurrency, async (i) => {
      const t0 = performance.now();
      try {
        const client = await this.#connect(
          typeof target === "function" ? target(i) : target,
          devices[i],
          options.mode,
          options.pattern,
          options.paths,
        );
        latency.record(performance.now() - t0);
        ok++;
        keep(i, client);
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      progress(ok, failed);
    });
    return {
      ok,
      failed,
      seconds: (performance.now() - started) / 1000,
      handshakeLatency: latency.toJSON(),
      firstError,
    };
  }

  async #openGroups(
    c: Extract<AgentCommand, { cmd: "openGroups" }>,
    progress: Progress,
  ): Promise<OpenResult> {
    this.#target = c.target;
    this.#mode = c.mode;
    this.#pattern = c.pattern;
    const onError = () => this.#engine?.countSendError();
    const sessions: Session[] = [];
    for (let g = 0; g < c.groups; g++) {
      for (let m = 0; m < c.groupSize; m++) {
        const channel = c.channelBase + g;
        sessions.push({
          device: newDevice(),
          channel,
          client: null,
          conn: new SessionConn(channel, onError),
        });
      }
    }
    const targets = c.targets?.length ? c.targets : [c.target];
    const result = await this.#connectAll(
      (i) => targets[(i % c.groupSize) % targets.length],
      sessions.map((s) => s.device),
      c,
      (i, client) => {
        sessions[i].client = client;
        sessions[i].conn.attach(client);
      },
      progress,
    );
    this.#sessions.push(...sessions);
    if (result.failed > 0) {
      throw new Error(`${result.failed} sessions failed: ${result.firstError}`);
    }
    // Routing follows friendship, for as long as the route is used (PROTOCOL.md
    // §4 "Reachability"): every member befriends every other, then the first
    // creates the route with them as members. (With only the first befriending
    // the others, the others' messages reached the first member alone.)
    await boundedAll(c.groups, c.concurrency, async (g) => {
      const members = sessions.slice(g * c.groupSize, (g + 1) * c.groupSize);
      for (let i = 0; i < members.length; i++) {
        for (const other of members.slice(i + 1)) {
          await this.#befriend(c.target, members[i].client!, other.client!);
        }
      }
      await members[0].client!.join(
        members[0].channel,
        members.slice(1).map((s) => s.device.deviceId),
      );
      if (c.media) await this.#startCall(members);
    });
    const groups: LoadConn[][] = [];
    for (let g = 0; g < c.groups; g++) {
      groups.push(sessions.slice(g * c.groupSize, (g + 1) * c.groupSize).map((s) => s.conn));
    }
    this.#engine = new TrafficEngine(groups);
    return result;
  }

  /** The first member calls the others on their channel; they all accept. */
  async #startCall(members: Session[]): Promise<void> {
    const callId = `load-${crypto.randomUUID()}`;
    const first = members[0];
    await first.client!.request(FrameType.CallOffer, first.channel, {
      call_id: callId,
      from: first.device.deviceId,
      to: members.slice(1).map((m) => m.device.deviceId),
      media: {
        audio: {
          codec: "opus",
          bitrate: 32_000,
          sample_rate: 48_000,
          channels: 1,
          source: "encoded",
        },
      },
    });
    for (const m of members.slice(1)) {
      await m.client!.request(FrameType.CallAnswer, m.channel, { call_id: callId, accept: true });
    }
    for (const m of members) m.conn.media = true;
  }

  /** `a` sends `b` a friend request through the REST API and `b` accepts it. */
  async #befriend(target: TargetJson, a: CommuCatClient, b: CommuCatClient): Promise<void> {
    const client = this.#httpClient(target.certificatePem);
    const call = async (path: string, as: CommuCatClient) => {
      const response = await fetch(`${target.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${as.session.sessionId}` },
        client,
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status} ${text}`);
    };
    await call(`/api/friends/requests/${b.session.userId}`, a);
    await call(`/api/friends/requests/${a.session.userId}/accept`, b);
  }

  async #openRawGroups(c: Extract<AgentCommand, { cmd: "openRawGroups" }>): Promise<OpenResult> {
    const started = performance.now();
    const groups: LoadConn[][] = [];
    const httpClient = c.caCerts ? this.#httpClient(c.caCerts[0]) : undefined;
    for (let g = 0; g < c.groups; g++) {
      const group: LoadConn[] = [];
      for (let m = 0; m < c.groupSize; m++) {
        const url = `${c.url}/?group=${runId}-${g}${c.acks ? "&acks=1" : ""}`;
        if (this.#webSocket === "nodelay") {
          group.push(await this.#openRawNoDelay(url, c.caCerts, c.acks));
          continue;
        }
        const socket = httpClient
          ? new WebSocket(url, { client: httpClient } as unknown as string[])
          : new WebSocket(url);
        socket.binaryType = "arraybuffer";
        const conn: LoadConn = {
          onMessage: null,
          send: (payload) => socket.send(payload),
          close: () => socket.close(),
        };
        socket.onmessage = c.acks
          ? (event) => {
            const data = event.data as ArrayBuffer;
            if (data.byteLength === RELAY_ACK_LENGTH) return; // the relay's Ack of our send
            socket.send(DELIVERY_ACK);
            conn.onMessage?.(new Uint8Array(data));
          }
          : (event) => conn.onMessage?.(new Uint8Array(event.data as ArrayBuffer));
        await new Promise<void>((resolve, reject) => {
          socket.onopen = () => resolve();
          socket.onerror = () => reject(new Error(`relay connect failed: ${url}`));
        });
        this.#raw.push(socket);
        group.push(conn);
      }
      groups.push(group);
    }
    // The relay registers a socket on open; give it a moment before traffic starts.
    await new Promise((resolve) => setTimeout(resolve, 200));
    this.#engine = new TrafficEngine(groups);
    return {
      ok: this.#raw.length,
      failed: 0,
      seconds: (performance.now() - started) / 1000,
      handshakeLatency: new LatencyHistogram().toJSON(),
    };
  }

  /** A relay member over the TCP_NODELAY client: the same behaviour as the `WebSocket` one. */
  async #openRawNoDelay(url: string, caCerts?: string[], acks?: boolean): Promise<LoadConn> {
    const socket = await connectNoDelayWebSocket(url, { caCerts });
    const conn: LoadConn = {
      onMessage: null,
      send: (payload) => socket.send(payload),
      close: () => socket.close(),
    };
    socket.onmessage = acks
      ? (data) => {
        if (data.byteLength === RELAY_ACK_LENGTH) return; // the relay's Ack of our send
        socket.send(DELIVERY_ACK);
        conn.onMessage?.(data);
      }
      : (data) => conn.onMessage?.(data);
    this.#raw.push(socket);
    return conn;
  }

  /**
   * Idle raw WebSockets to the relay (the memory floor); closed by `closeGroups`.
   * Always the platform's `WebSocket`: only the server's memory is measured here.
   */
  async #openRawIdle(
    c: Extract<AgentCommand, { cmd: "openRawIdle" }>,
    progress: Progress,
  ): Promise<OpenResult> {
    const started = performance.now();
    const httpClient = c.caCerts ? this.#httpClient(c.caCerts[0]) : undefined;
    let ok = 0;
    let failed = 0;
    let firstError: string | undefined;
    const exchange = c.exchange ?? [];
    const like = `&idle=${c.idleSeconds ?? 0}&replies=${exchange.map((e) => e.reply).join(",")}`;
    await boundedAll(c.count, c.concurrency, async (i) => {
      const url = `${c.url}/?group=${runId}-idle-${i}${like}`;
      const socket = httpClient
        ? new WebSocket(url, { client: httpClient } as unknown as string[])
        : new WebSocket(url);
      try {
        await new Promise<void>((resolve, reject) => {
          socket.onopen = () => resolve();
          socket.onerror = () => reject(new Error(`relay connect failed: ${url}`));
        });
        for (const step of exchange) {
          const answered = new Promise<void>((resolve, reject) => {
            socket.onmessage = () => resolve();
            socket.onclose = () => reject(new Error(`relay closed during the exchange: ${url}`));
          });
          socket.send(new Uint8Array(step.send));
          await answered;
        }
        socket.onmessage = null;
        socket.onclose = null;
        this.#raw.push(socket);
        ok++;
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      progress(ok, failed);
    });
    return {
      ok,
      failed,
      seconds: (performance.now() - started) / 1000,
      handshakeLatency: new LatencyHistogram().toJSON(),
      firstError,
    };
  }

  async #handshakeStorm(
    c: Extract<AgentCommand, { cmd: "handshakeStorm" }>,
    progress: Progress,
  ): Promise<OpenResult> {
    // Keys are made before the clock starts: they are not the server's cost.
    const devices = Array.from({ length: c.count }, newDevice);
    return await this.#connectAll(c.target, devices, c, (_, client) => client.close(), progress);
  }

  async #reconnectStorm(concurrency: number, progress: Progress): Promise<OpenResult> {
    if (!this.#target) throw new Error("no sessions to reconnect");
    const sessions = this.#sessions;
    // Drop every session at once, as a network blip or a restarting proxy would.
    for (const session of sessions) session.conn.close();
    await Promise.all(sessions.map((s) => s.conn.client?.finished));
    const result = await this.#connectAll(
      this.#target,
      sessions.map((s) => s.device),
      { mode: this.#mode, pattern: this.#pattern, concurrency },
      (i, client) => {
        sessions[i].client = client;
        sessions[i].conn.attach(client);
      },
      progress,
    );
    return result;
  }

  async #openIdle(
    c: Extract<AgentCommand, { cmd: "openIdle" }>,
    progress: Progress,
  ): Promise<OpenResult> {
    const devices = Array.from({ length: c.count }, newDevice);
    return await this.#connectAll(
      c.target,
      devices,
      { mode: c.mode, pattern: "XK", concurrency: c.concurrency },
      (_, client) => this.#idle.push(client),
      progress,
    );
  }
}
