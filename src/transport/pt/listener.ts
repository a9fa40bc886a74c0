/**
 * The pluggable-transport listener: a PT server binary (obfs4proxy first) runs
 * as a child in managed mode on the public port (`transport.pt.bind`) and
 * forwards each client's decrypted stream to our Extended ORPort on loopback,
 * together with the client's real address (./ext_orport.ts). The stream is
 * what the client sent inside the tunnel — TLS carrying HTTP — so it goes to a
 * {@link LoopbackEngine} exactly like a socket of the TLS listener.
 *
 * Guards: the loopback socket passes the first-request timeout of the
 * {@link GuardedAcceptor}; the connection caps are taken after the PT named
 * the client (USERADDR), so every client behind the one PT process is capped
 * on its own (a refused one gets DENY, which makes the PT drop it). A peer on
 * loopback that does not know the auth cookie is closed.
 *
 * The child is restarted (with back-off) when it exits on its own; its state
 * directory keeps its keys, so the bridge line stays the same.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import { CONNECT_MODES } from "../../proto/mod.ts";
import {
  type AcceptDrop,
  type AdmittedSocket,
  closeQuietly,
  GuardedAcceptor,
} from "../guarded_accept.ts";
import {
  type ByteStream,
  type ConnectionSink,
  type Listener,
  type SlotTicket,
  type TransportDescriptor,
  UNCOUNTED_SLOT,
} from "../listener.ts";
import type { LoopbackEngine } from "../loopback_engine.ts";
import { serveTunnel, startTunnels } from "../tunnel_serve.ts";
import { acceptExtOrPort, writeAuthCookie } from "./ext_orport.ts";
import { ManagedTransport, type PtMethod, PtStartError } from "./managed.ts";
import { formatPtAddress, formatPtArgs, type PtAddress } from "./protocol.ts";

/** Why a connection was not served. */
export type PtDrop = AcceptDrop | "unauthenticated";

/** Options of {@link PtListener.open}. */
export interface PtListenerOptions {
  /** The config section it comes from (`transport.pt`), for logs and errors. */
  configKey: string;
  /** The PT binary (`transport.pt.binary`). */
  binary: string;
  /** Its transport name (`obfs4`). */
  transport: string;
  /** The public address the PT listens on. */
  bind: PtAddress;
  /** The PT's state directory (its keys; obfs4proxy writes `obfs4_bridgeline.txt` there). */
  stateDir: string;
  /** `k=v;k=v` server options for the transport (obfs4: `iat-mode=1`). */
  serverOptions?: string;
  /** Extra arguments for the binary. */
  args?: readonly string[];
  /** The server's certificate and key: clients speak TLS inside the tunnel. */
  tls: { cert: string; key: string };
  /** Time from the PT's loopback connection to the first HTTP request, ms. */
  firstRequestTimeoutMs: number;
  /** Takes a connection slot for a client address: its ticket, or why not. */
  admit: (remote: Deno.NetAddr) => SlotTicket | "total" | "per_client";
  log: Logger;
  /** Called for every connection not served (metrics, tests). */
  onDrop?: (reason: PtDrop) => void;
  /** How long the PT may take to start (default 15 s). */
  startTimeoutMs?: number;
  /** Metrics hook: the child's state and restarts, each forwarded connection's outcome. */
  observer?: PtObserver;
}

/** What the listener reports for metrics. */
export interface PtObserver {
  /** The child started (true) or exited (false). */
  childUp(up: boolean): void;
  /** The child was restarted after it exited on its own. */
  restarted(): void;
  /** A forwarded connection: `served`, refused by a cap (`total`, `per_client`), or `unauthenticated`. */
  connection(outcome: "served" | "total" | "per_client" | "unauthenticated"): void;
}

/** The file (in the state directory) where the server writes {@link BridgeInfo}. */
export const BRIDGE_ARGS_FILE = "commucat_bridge.json";

/** What a client needs to reach the PT listener (the bridge), as the server last started it. */
export interface BridgeInfo {
  /** The transport's name (`obfs4`). */
  readonly transport: string;
  /** The public port the PT listens on. */
  readonly port: number;
  /** The client's arguments, `k=v;k=v` (obfs4: `cert=…;iat-mode=0`); a secret of sorts. */
  readonly args: string;
}

/** Most time between two restarts of a PT that keeps exiting, ms. */
const MAX_RESTART_DELAY_MS = 30_000;

/** The listener: see the module doc. */
export class PtListener implements Listener {
  readonly name: string;
  readonly #options: PtListenerOptions;
  readonly #acceptor: GuardedAcceptor;
  readonly #cookie: Uint8Array;
  #child: ManagedTransport;
  #closed = false;
  #restartDelay = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    options: PtListenerOptions,
    acceptor: GuardedAcceptor,
    cookie: Uint8Array,
    child: ManagedTransport,
  ) {
    this.#options = options;
    this.#acceptor = acceptor;
    this.#cookie = cookie;
    this.#child = child;
    this.name = `pt ${options.transport} ${
      formatPtAddress(child.method.address)
    } (${options.configKey}.bind)`;
    this.#watch(child);
    options.observer?.childUp(true);
  }

  /**
   * Binds the loopback Extended ORPort, starts the PT child and waits until it
   * listens; rejects (nothing left running) naming the config key.
   */
  static async open(options: PtListenerOptions): Promise<PtListener> {
    const acceptor = new GuardedAcceptor({
      configKey: `${options.configKey} (loopback Extended ORPort)`,
      hostname: "127.0.0.1",
      port: 0,
      tls: options.tls,
      firstRequestTimeoutMs: options.firstRequestTimeoutMs,
      // The loopback hop is the PT, not a client: caps apply once it names the client.
      admit: () => UNCOUNTED_SLOT,
      log: options.log,
      onDrop: options.onDrop,
    });
    try {
      let cookie: Uint8Array;
      try {
        await Deno.mkdir(options.stateDir, { recursive: true, mode: 0o700 });
        cookie = await writeAuthCookie(cookiePath(options.stateDir));
      } catch (error) {
        throw new PtStartError(
          `${options.configKey}.state_dir`,
          `cannot write ${options.stateDir}: ${(error as Error).message}`,
          error,
        );
      }
      const child = await startChild(options, acceptor.addr);
      const listener = new PtListener(options, acceptor, cookie, child);
      await listener.#saveBridgeArgs(child.method);
      return listener;
    } catch (error) {
      acceptor.close();
      throw error;
    }
  }

  /** The public address the PT listens on. */
  get addr(): Deno.NetAddr {
    const a = this.#child.method.address;
    return { transport: "tcp", hostname: a.hostname, port: a.port };
  }

  /** What the PT reported a client needs (obfs4: `cert`, `iat-mode`); not for logs. */
  get bridgeArgs(): ReadonlyMap<string, string> {
    return this.#child.method.args;
  }

  /** The running child's process id (tests, diagnostics). */
  get pid(): number {
    return this.#child.pid;
  }

  /** A PT tunnel; obfs4 with inter-arrival-time obfuscation is slow (docs/PERFORMANCE.md). */
  describe(): TransportDescriptor {
    const iat = this.#child.method.args.get("iat-mode");
    return {
      kind: this.#options.transport,
      transport: this.#options.transport,
      resistance: "Maximum",
      latency: "Medium",
      throughput: iat !== undefined && iat !== "0" ? "Low" : "High",
      port: this.addr.port,
      configKey: `${this.#options.configKey}.bind`,
      modes: CONNECT_MODES,
    };
  }

  start(sink: ConnectionSink): void {
    startTunnels(this.#acceptor, sink, this.name, (socket, engine) => this.#serve(socket, engine));
  }

  /** Runs the Extended ORPort handshake, takes a cap slot for the client, then serves HTTP. */
  async #serve(socket: AdmittedSocket, engine: LoopbackEngine): Promise<void> {
    const { conn } = socket;
    let hello;
    try {
      hello = await acceptExtOrPort(conn, this.#cookie);
    } catch (error) {
      this.#options.onDrop?.("unauthenticated");
      this.#options.observer?.connection("unauthenticated");
      this.#options.log.warn("pluggable transport: Extended ORPort handshake failed", {
        listener: this.name,
        error: (error as Error).message,
      });
      return closeQuietly(conn);
    }
    const remoteAddr = hello.userAddr ?? socket.remoteAddr;
    const ticket = this.#options.admit(remoteAddr);
    if (typeof ticket === "string") {
      this.#options.onDrop?.(ticket);
      this.#options.observer?.connection(ticket);
      this.#options.log.warn(
        ticket === "total"
          ? "connection refused: server.max_connections reached"
          : "connection refused: server.max_connections_per_ip reached",
        { listener: this.name },
      );
      await hello.reply(false).catch(() => {});
      return closeQuietly(conn);
    }
    this.#options.observer?.connection("served");
    try {
      await hello.reply(true);
      const stream: Deno.Conn | ByteStream = hello.leftover.length > 0
        ? withPrefix(conn, hello.leftover)
        : conn;
      await serveTunnel(socket, engine, stream, remoteAddr);
    } finally {
      ticket.release();
    }
  }

  /** Writes what a client needs ({@link BridgeInfo}, mode 0600) for `commucat pt bridge-line`. */
  async #saveBridgeArgs(method: PtMethod): Promise<void> {
    const info: BridgeInfo = {
      transport: method.transport,
      port: method.address.port,
      args: formatPtArgs(method.args),
    };
    const path = `${this.#options.stateDir}/${BRIDGE_ARGS_FILE}`;
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    await Deno.writeTextFile(tmp, JSON.stringify(info) + "\n", { mode: 0o600, createNew: true });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  }

  /** Restarts the child when it exits on its own. */
  #watch(child: ManagedTransport): void {
    child.exited.then((status) => {
      if (this.#closed || child.stopping || child !== this.#child) return;
      this.#options.observer?.childUp(false);
      this.#restartDelay = Math.min(Math.max(this.#restartDelay * 2, 500), MAX_RESTART_DELAY_MS);
      this.#options.log.error("pluggable transport exited; restarting", {
        listener: this.name,
        code: status.code,
        signal: status.signal,
        retry_ms: this.#restartDelay,
      });
      this.#restartTimer = setTimeout(() => this.#restart(), this.#restartDelay);
    });
  }

  async #restart(): Promise<void> {
    if (this.#closed) return;
    try {
      const child = await startChild(this.#options, this.#acceptor.addr);
      if (this.#closed) return void child.stop();
      this.#child = child;
      this.#restartDelay = 0;
      this.#options.observer?.restarted();
      this.#options.observer?.childUp(true);
      this.#watch(child);
      await this.#saveBridgeArgs(child.method).catch(() => {});
    } catch (error) {
      this.#restartDelay = Math.min(Math.max(this.#restartDelay * 2, 500), MAX_RESTART_DELAY_MS);
      this.#options.log.error("pluggable transport restart failed", {
        listener: this.name,
        error: (error as Error).message,
        retry_ms: this.#restartDelay,
      });
      this.#restartTimer = setTimeout(() => this.#restart(), this.#restartDelay);
    }
  }

  /** Stops the child (no new clients), then drains the connections it carried. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    await Promise.all([this.#child.stop(), this.#acceptor.shutdown()]);
  }

  /** Ends every connection and the child now. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    void this.#child.stop();
    this.#acceptor.close();
  }
}

/** Where the Extended ORPort auth cookie lives. */
function cookiePath(stateDir: string): string {
  return `${stateDir}/extended_orport_auth_cookie`;
}

function startChild(
  options: PtListenerOptions,
  extOrPort: Deno.NetAddr,
): Promise<ManagedTransport> {
  return ManagedTransport.start({
    binary: options.binary,
    args: options.args,
    transport: options.transport,
    stateDir: options.stateDir,
    configKey: `${options.configKey}.binary`,
    startTimeoutMs: options.startTimeoutMs,
    log: options.log,
    side: {
      role: "server",
      bind: options.bind,
      extendedOrPort: { hostname: extOrPort.hostname, port: extOrPort.port },
      authCookieFile: cookiePath(options.stateDir),
      options: options.serverOptions,
    },
  });
}

/** A connection whose first bytes were already read (they are replayed first). */
function withPrefix(conn: Deno.Conn, prefix: Uint8Array): ByteStream {
  let first: Uint8Array | null = prefix.slice();
  const buf = new Uint8Array(32 * 1024);
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (first) {
        controller.enqueue(first);
        first = null;
        return;
      }
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return controller.close();
      controller.enqueue(buf.slice(0, n));
    },
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
    },
  });
  return { readable, writable, close: () => closeQuietly(conn) };
}
