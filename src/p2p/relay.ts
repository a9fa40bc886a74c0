/**
 * The `/p2p` relay (PROTOCOL.md §5 "P2P relay"): two authenticated devices
 * meet under a session id and exchange WebSocket messages through the
 * server, verbatim. Upstream paired any two sockets that sent the same id
 * (anyone who learnt or guessed it could join or take a slot); here both
 * sides must hold a session bearer token, the first names the device it
 * waits for, only that device may join (and only naming the first back),
 * and the two must be allowed to talk (own devices, mutual friends, shared
 * groups). Everything is bounded: the hello and the wait for a peer time
 * out, idle pairs are closed, a message or the queue toward a slow peer over
 * its limit ends the pair, and the number of sessions is capped.
 *
 * Close codes: 4400 bad hello, 4403 refused (not allowed, third party),
 * 4408 timeout (hello, peer, idle), 4409 already waiting, 4413 too large or
 * queue overflow, 1000 when the other side left, 1001 when the server stops.
 *
 * @module
 */
import { problem } from "../http/mod.ts";
import { holdSlotWhileOpen } from "../transport/listener.ts";

/** Who a relay peer is (from its session bearer token). */
export interface RelayIdentity {
  readonly deviceId: string;
  readonly userId: string;
}

/** Why a relay socket was closed or refused (metric label values). */
export type RelayOutcome =
  | "bad_hello"
  | "refused"
  | "third_party"
  | "hello_timeout"
  | "wait_timeout"
  | "idle_timeout"
  | "duplicate"
  | "too_large"
  | "overflow"
  | "peer_left"
  | "capacity"
  | "shutdown";

/** Hooks for metrics. */
export interface RelayObserver {
  /** Sessions waiting for their second peer now. */
  waiting?(count: number): void;
  /** Pairs relaying now. */
  paired?(count: number): void;
  /** A pair formed. */
  pairFormed?(): void;
  /** A socket ended or was refused, and why. */
  ended?(outcome: RelayOutcome): void;
  /** A message relayed (its size in bytes). */
  relayed?(bytes: number): void;
}

/** Options of {@link P2pRelay}. */
export interface RelayOptions {
  /** The caller of a request, or the problem+json response refusing it (401/403). */
  authenticate(request: Request): Promise<RelayIdentity | Response>;
  /** Whether `a` may open a relay to device `b` (reachability). */
  mayPair(a: RelayIdentity, b: string): Promise<boolean>;
  /** The hello must arrive within this (default 10 s, upstream's). */
  helloTimeoutMs?: number;
  /** The first peer waits this long for the second (default 30 s, upstream's). */
  waitTimeoutMs?: number;
  /** A pair with no message either way this long is closed (default 120 s). */
  idleTimeoutMs?: number;
  /** Largest message relayed (default 64 KiB). */
  maxMessageBytes?: number;
  /** Bytes queued toward one peer before the pair is ended (default 1 MiB). */
  maxQueuedBytes?: number;
  /** Sessions (waiting or paired) at once (default 1024). */
  maxSessions?: number;
  observer?: RelayObserver;
}

const SESSION_ID = /^[A-Za-z0-9_-]{16,96}$/;
const MAX_DEVICE_ID = 128;

interface Side {
  readonly socket: WebSocket;
  readonly who: RelayIdentity;
}

interface Session {
  readonly id: string;
  readonly first: Side;
  /** The device the first side waits for. */
  readonly expect: string;
  second: Side | null;
  timer: ReturnType<typeof setTimeout>;
}

/** The relay; see the module doc. */
export class P2pRelay {
  readonly #o: Required<Omit<RelayOptions, "observer">> & { observer: RelayObserver };
  readonly #sessions = new Map<string, Session>();
  /** Sockets upgraded and not yet closed (hello pending, waiting or paired). */
  readonly #sockets = new Set<WebSocket>();
  #stopping = false;

  constructor(options: RelayOptions) {
    this.#o = {
      helloTimeoutMs: 10_000,
      waitTimeoutMs: 30_000,
      idleTimeoutMs: 120_000,
      maxMessageBytes: 64 * 1024,
      maxQueuedBytes: 1024 * 1024,
      maxSessions: 1024,
      observer: {},
      ...options,
    };
  }

  /** Sessions waiting for their second peer. */
  get waiting(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (!s.second) n++;
    return n;
  }

  /** Pairs relaying now. */
  get paired(): number {
    return this.#sessions.size - this.waiting;
  }

  /** Serves `GET /p2p` (a WebSocket upgrade). */
  async handle(request: Request): Promise<Response> {
    if (request.method !== "GET") {
      return problem(405, "use GET with a WebSocket upgrade", { headers: { allow: "GET" } });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "the relay is a WebSocket: send Upgrade: websocket", {
        headers: { upgrade: "websocket" },
      });
    }
    if (this.#stopping) return problem(503, "server is shutting down");
    const who = await this.#o.authenticate(request);
    if (who instanceof Response) return who;
    if (this.#sockets.size >= 2 * this.#o.maxSessions) {
      this.#o.observer.ended?.("capacity");
      return problem(503, "relay is full, try again later");
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    holdSlotWhileOpen(request, socket);
    socket.binaryType = "arraybuffer";
    this.#accept(socket, who);
    return response;
  }

  /** Closes every relay socket (the server is stopping). */
  shutdown(): void {
    this.#stopping = true;
    for (const s of [...this.#sockets]) this.#close(s, 1001, "server is stopping", "shutdown");
  }

  #accept(socket: WebSocket, who: RelayIdentity): void {
    this.#sockets.add(socket);
    let helloDone = false;
    const helloTimer = setTimeout(() => {
      this.#close(socket, 4408, "no hello in time", "hello_timeout");
    }, this.#o.helloTimeoutMs);
    socket.onmessage = (event) => {
      if (helloDone) return;
      helloDone = true;
      clearTimeout(helloTimer);
      void this.#hello(socket, who, event.data).catch(() => {
        this.#close(socket, 4400, "bad hello", "bad_hello");
      });
    };
    socket.onclose = () => {
      clearTimeout(helloTimer);
      this.#sockets.delete(socket);
      this.#left(socket);
    };
    socket.onerror = () => {};
  }

  async #hello(socket: WebSocket, who: RelayIdentity, data: unknown): Promise<void> {
    const hello = parseHello(data);
    if (typeof hello === "string") return this.#close(socket, 4400, hello, "bad_hello");
    if (hello.peer === who.deviceId) {
      return this.#close(socket, 4400, "peer must be another device", "bad_hello");
    }
    const existing = this.#sessions.get(hello.sessionId);
    if (existing) return this.#join(existing, socket, who, hello.peer);
    if (!(await this.#o.mayPair(who, hello.peer))) {
      // Same answer whether the device exists or not: no probing of device ids.
      return this.#close(socket, 4403, "not allowed to relay to that device", "refused");
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    // The id may have been taken while mayPair ran.
    const raced = this.#sessions.get(hello.sessionId);
    if (raced) return this.#join(raced, socket, who, hello.peer);
    if (this.#sessions.size >= this.#o.maxSessions) {
      return this.#close(socket, 1013, "relay is full", "capacity");
    }
    const session: Session = {
      id: hello.sessionId,
      first: { socket, who },
      expect: hello.peer,
      second: null,
      timer: setTimeout(() => {
        this.#end(session, 4408, "no peer joined in time", "wait_timeout");
      }, this.#o.waitTimeoutMs),
    };
    this.#sessions.set(session.id, session);
    this.#counts();
    socket.send(JSON.stringify({ status: "waiting" }));
  }

  #join(session: Session, socket: WebSocket, who: RelayIdentity, peer: string): void {
    if (session.second !== null) {
      return this.#close(socket, 4403, "session is taken", "third_party");
    }
    if (who.deviceId === session.first.who.deviceId) {
      return this.#close(socket, 4409, "this device already waits on that session", "duplicate");
    }
    // Only the device the first side named, naming the first side back.
    if (who.deviceId !== session.expect || peer !== session.first.who.deviceId) {
      return this.#close(socket, 4403, "session is taken", "third_party");
    }
    clearTimeout(session.timer);
    session.second = { socket, who };
    this.#o.observer.pairFormed?.();
    this.#counts();
    const a = session.first, b = session.second;
    a.socket.send(JSON.stringify({ status: "paired", peer: b.who.deviceId }));
    b.socket.send(JSON.stringify({ status: "paired", peer: a.who.deviceId }));
    const idle = () => {
      clearTimeout(session.timer);
      session.timer = setTimeout(() => {
        this.#end(session, 4408, "idle", "idle_timeout");
      }, this.#o.idleTimeoutMs);
    };
    idle();
    const forward = (to: Side) => (event: MessageEvent) => {
      const data = event.data as ArrayBuffer | string;
      const size = typeof data === "string"
        ? new TextEncoder().encode(data).length
        : data.byteLength;
      if (size > this.#o.maxMessageBytes) {
        return this.#end(session, 4413, "message too large", "too_large");
      }
      if (to.socket.bufferedAmount + size > this.#o.maxQueuedBytes) {
        return this.#end(session, 4413, "relay queue overflow", "overflow");
      }
      if (to.socket.readyState !== WebSocket.OPEN) return;
      to.socket.send(data);
      this.#o.observer.relayed?.(size);
      idle();
    };
    a.socket.onmessage = forward(b);
    b.socket.onmessage = forward(a);
  }

  /** A socket closed: its session ends, the other side is told. */
  #left(socket: WebSocket): void {
    for (const session of this.#sessions.values()) {
      const other = session.first.socket === socket
        ? session.second?.socket
        : session.second?.socket === socket
        ? session.first.socket
        : undefined;
      if (session.first.socket !== socket && session.second?.socket !== socket) continue;
      clearTimeout(session.timer);
      this.#sessions.delete(session.id);
      this.#counts();
      if (other) this.#close(other, 1000, "peer left", "peer_left");
      return;
    }
  }

  #end(session: Session, code: number, reason: string, outcome: RelayOutcome): void {
    clearTimeout(session.timer);
    this.#sessions.delete(session.id);
    this.#counts();
    this.#close(session.first.socket, code, reason, outcome);
    if (session.second) this.#close(session.second.socket, code, reason, outcome);
  }

  #close(socket: WebSocket, code: number, reason: string, outcome: RelayOutcome): void {
    if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
    this.#o.observer.ended?.(outcome);
    try {
      socket.close(code, reason);
    } catch {
      // Already closing underneath us.
    }
  }

  #counts(): void {
    this.#o.observer.waiting?.(this.waiting);
    this.#o.observer.paired?.(this.paired);
  }
}

/** The first message: `{"session_id", "peer"}` as text (JSON); else why not. */
function parseHello(data: unknown): { sessionId: string; peer: string } | string {
  if (typeof data !== "string") return "the hello is a text message";
  if (data.length > 1024) return "hello too long";
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return "the hello is not JSON";
  }
  if (typeof value !== "object" || value === null) return "the hello is not an object";
  const { session_id: sessionId, peer } = value as Record<string, unknown>;
  if (typeof sessionId !== "string" || !SESSION_ID.test(sessionId)) {
    return "session_id must be 16-96 characters of A-Z a-z 0-9 _ -";
  }
  if (typeof peer !== "string" || peer.length === 0 || peer.length > MAX_DEVICE_ID) {
    return "peer must name the other device";
  }
  return { sessionId, peer };
}
