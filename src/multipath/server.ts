/**
 * The server's side of multipath sessions: the hub (one per server, never a
 * module global) that knows every multipath session by its path-set id and
 * checks attach tokens, and {@link ServerPaths}, the `Link` a session's
 * outbound writes to once multipath started: each unit goes to the
 * endpoint, which schedules it over the session's paths.
 *
 * @module
 */
import {
  controlFrame,
  decodeVarint,
  encodeFrame,
  FrameType,
  UnitDecoder,
  varintLength,
  writeVarint,
} from "../proto/mod.ts";
import type { Link, UnitHeader } from "../transport/mod.ts";
import { MultipathEndpoint, type PathLink, type PathStatus } from "./endpoint.ts";
import type { FecCodec } from "./fec.ts";
import { PATH_SECRET_BYTES, PathKeys } from "./keys.ts";
import type { FecPolicy } from "./policy.ts";
import { attachedUnit, decodePathUnit } from "./wire.ts";

/** Server settings of multipath sessions. */
export interface MultipathSettings {
  /** Paths one session may have at once (the first included). */
  maxPaths: number;
  /** Attaches one session may make in its life (every counter is single use). */
  maxAttaches: number;
  /** How long a session with no path left waits for one to be attached, ms. */
  lingerMs: number;
  /** The scheduling policy, per frame class. */
  policy: Record<string, FecPolicy>;
  /** RaptorQ codec (absent: raptorq falls back to duplicate). */
  fec?: FecCodec;
}

/** What a multipath session needs from its connection. */
export interface ServerPathsSide {
  /** The session's device (lists its paths for `/api/p2p/assist`). */
  readonly deviceId?: string;
  /** An in-order upstream unit (`varint(len) || ciphertext`). */
  deliver(unit: Uint8Array): void;
  /** The session must end (`detail` says why). */
  close(detail: string): void;
  /** The client ended the session and everything it sent arrived. */
  end(): void;
}

/** Why an attach was refused. */
export class AttachError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AttachError";
  }
}

const toKey = (setId: Uint8Array) =>
  Array.from(setId, (b) => b.toString(16).padStart(2, "0")).join("");

/** What a hub has done, for `/metrics` and `/api/security-stats`. */
export interface MultipathStats {
  /** Sessions that attached a second path, since start (each counted once). */
  readonly sessionsStarted: number;
  /** Live sessions that have attached a second path. */
  readonly liveSessions: number;
  /** Paths of those live sessions, together. */
  readonly livePaths: number;
  /** FEC packets the sessions' codec produced, since start. */
  readonly fecPackets: number;
}

/** Every multipath session of one server. */
export class MultipathHub {
  readonly settings: MultipathSettings;
  readonly #sessions = new Map<string, ServerPaths>();
  #sessionsStarted = 0;
  #fecPackets = 0;

  constructor(settings: MultipathSettings) {
    const fec = settings.fec;
    // The sessions encode through this wrapper so every packet is counted.
    this.settings = fec
      ? {
        ...settings,
        fec: {
          encode: async (objectId, object, overhead) => {
            const packets = await fec.encode(objectId, object, overhead);
            this.#fecPackets += packets.length;
            return packets;
          },
          receiver: () => fec.receiver(),
          close: () => fec.close?.(),
        },
      }
      : settings;
  }

  /** Counters and live figures (see {@link MultipathStats}). */
  stats(): MultipathStats {
    let liveSessions = 0;
    let livePaths = 0;
    for (const paths of this.#sessions.values()) {
      if (!paths.attachedAny) continue;
      liveSessions++;
      livePaths += paths.pathCount;
    }
    return {
      sessionsStarted: this.#sessionsStarted,
      liveSessions,
      livePaths,
      fecPackets: this.#fecPackets,
    };
  }

  /** @internal A session attached its first extra path. */
  noteMultipath(): void {
    this.#sessionsStarted++;
  }

  /** Stops the FEC codec (the server stops; sessions are closed already). */
  close(): void {
    this.settings.fec?.close?.();
  }

  /** Multipath sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The live paths of `deviceId`'s multipath sessions on this server. */
  pathsOf(deviceId: string): PathStatus[] {
    const out: PathStatus[] = [];
    for (const paths of this.#sessions.values()) {
      if (paths.deviceId === deviceId) out.push(...paths.paths());
    }
    return out;
  }

  /**
   * Starts a multipath session on its first link, right after the Ack went
   * out on it. `secret` is what the Ack carried; `raptorq`: the client
   * decodes RaptorQ.
   */
  open(
    primary: Link,
    secret: Uint8Array,
    handshakeHash: Uint8Array,
    raptorq: boolean,
    side: ServerPathsSide,
  ): ServerPaths {
    const keys = PathKeys.derive(secret, handshakeHash);
    const paths = new ServerPaths(this, primary, keys, raptorq, side);
    this.#sessions.set(toKey(keys.setId), paths);
    return paths;
  }

  /** @internal The session ended. */
  forget(paths: ServerPaths): void {
    const key = toKey(paths.keys.setId);
    if (this.#sessions.get(key) === paths) this.#sessions.delete(key);
  }

  /**
   * Attaches `link` to the session its first unit names. Throws
   * {@link AttachError} for a malformed unit, an unknown session, a token
   * that is not this session's, a counter used before, or a full session.
   */
  attach(first: Uint8Array, link: PathLink & { mode: string }): ServerPaths {
    let unit;
    try {
      unit = decodePathUnit(first);
    } catch (error) {
      throw new AttachError(`not an attach unit: ${(error as Error).message}`);
    }
    if (unit.kind !== "attach") throw new AttachError(`expected an attach unit, got ${unit.kind}`);
    const paths = this.#sessions.get(toKey(unit.setId));
    // One answer for "no such session" and "not its token": no oracle for live set ids.
    if (!paths || !paths.keys.verifyAttach(unit.counter, unit.token)) {
      throw new AttachError("attach token does not match any session");
    }
    paths.take(unit.counter, link);
    return paths;
  }
}

/** The paths of one server session; the outbound side writes to it as a `Link`. */
export class ServerPaths implements Link {
  readonly mode: Link["mode"];
  readonly keys: PathKeys;
  readonly #hub: MultipathHub;
  readonly #endpoint: MultipathEndpoint;
  readonly #side: ServerPathsSide;
  readonly #primary: number;
  readonly #used = new Set<number>();
  #closed = false;
  #linger: ReturnType<typeof setTimeout> | undefined;
  /** Units delivered while a chunk is taken: they go to the session as one chunk. */
  #arrived: Uint8Array[] | null = null;

  constructor(
    hub: MultipathHub,
    primary: Link,
    keys: PathKeys,
    raptorq: boolean,
    side: ServerPathsSide,
  ) {
    this.#hub = hub;
    this.keys = keys;
    this.mode = primary.mode;
    this.#side = side;
    const settings = hub.settings;
    this.#endpoint = new MultipathEndpoint({
      side: "server",
      keys,
      policy: settings.policy,
      // RaptorQ only toward a client that decodes it (Hello capability "raptorq").
      fec: raptorq ? settings.fec : undefined,
      deliver: (ciphertext) => {
        if (this.#arrived !== null) this.#arrived.push(ciphertext);
        else side.deliver(unitOf(ciphertext)); // rebuilt by FEC, after the chunk's call
      },
      onFatal: (detail) => side.close(detail),
      onPeerEnd: () => {
        this.#passArrived(); // what came before the END first: the session ends after it
        side.end();
      },
      onPathEnd: () => this.#checkEmpty(),
    });
    this.#primary = this.#endpoint.addPath(pathOf(primary), primary.mode);
  }

  /** The session's device (when the session layer named it). */
  get deviceId(): string | undefined {
    return this.#side.deviceId;
  }

  /** Path status (the first path is id 0). */
  paths(): PathStatus[] {
    return this.#endpoint.paths();
  }

  /** Whether a path was ever attached (the session became multipath). */
  get attachedAny(): boolean {
    return this.#used.size > 0;
  }

  /** Live paths now. */
  get pathCount(): number {
    return this.#endpoint.pathCount;
  }

  /** Endpoint counters. */
  get stats() {
    return this.#endpoint.stats;
  }

  /** @internal Adds an attached path (the hub checked its token). */
  take(counter: number, link: PathLink & { mode: string }): void {
    if (this.#closed) throw new AttachError("the session has ended");
    if (this.#used.has(counter)) throw new AttachError(`attach counter ${counter} was used before`);
    if (this.#used.size >= this.#hub.settings.maxAttaches) {
      throw new AttachError("this session made too many attaches");
    }
    if (this.#endpoint.pathCount >= this.#hub.settings.maxPaths) {
      throw new AttachError(`this session has ${this.#hub.settings.maxPaths} paths already`);
    }
    if (this.#used.size === 0) this.#hub.noteMultipath();
    this.#used.add(counter);
    clearTimeout(this.#linger);
    this.#linger = undefined;
    link.send(attachedUnit(counter, this.keys.attachedMac(counter)));
    const id = this.#endpoint.addPath(link, link.mode);
    // The attaching connection now feeds this path.
    (link as AttachedLink).bind?.(
      (chunk) => this.#receive(id, chunk),
      () => this.#endpoint.removePath(id),
    );
  }

  /** Upstream bytes of the first path. */
  receivePrimary(chunk: Uint8Array): void {
    this.#receive(this.#primary, chunk);
  }

  /**
   * Upstream bytes of path `id`. The in-order units they release reach the
   * session as one chunk (one pass through its receive path, not one per unit).
   */
  #receive(id: number, chunk: Uint8Array): void {
    this.#arrived = [];
    try {
      this.#endpoint.receive(id, chunk);
    } finally {
      this.#passArrived();
      this.#arrived = null;
    }
  }

  /** Hands the units gathered so far to the session. */
  #passArrived(): void {
    const arrived = this.#arrived;
    if (arrived === null || arrived.length === 0) return;
    this.#arrived = [];
    this.#side.deliver(unitsOf(arrived));
  }

  /** The first path's link closed (the session lives on over the others). */
  primaryClosed(): void {
    this.#endpoint.removePath(this.#primary);
  }

  // ---- Link (what the outbound writes to) ----

  /** Takes one unit or several joined (the outbound batches a turn's units into one write). */
  send(units: Uint8Array, _header: UnitHeader | null): void {
    let at = 0;
    while (at < units.length) {
      const prefix = decodeVarint(units, at, units.length)!;
      const start = at + prefix.length;
      at = start + prefix.value;
      this.#endpoint.send(units.subarray(start, at));
    }
  }

  /** Bytes sent and not acknowledged: the session's outbound bound applies to them. */
  get backlogBytes(): number {
    return this.#endpoint.unackedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Ends the session: END on every path, then every path closes (politely). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#linger);
    this.#hub.forget(this);
    this.#endpoint.end();
    this.#endpoint.close();
  }

  abort(): void {
    this.close();
  }

  #checkEmpty(): void {
    if (this.#closed || this.#endpoint.pathCount > 0 || this.#linger !== undefined) return;
    this.#linger = setTimeout(() => {
      this.#linger = undefined;
      if (this.#endpoint.pathCount === 0) this.#side.close("every path was lost");
    }, this.#hub.settings.lingerMs);
  }
}

/** A path link the attach handler builds; `bind` routes its upstream once attached. */
export interface AttachedLink extends PathLink {
  readonly mode: string;
  bind?(receive: (chunk: Uint8Array) => void, closed: () => void): void;
}

function pathOf(link: Link): PathLink {
  return {
    send: (unit) => link.send(unit, null),
    get backlogBytes() {
      return link.backlogBytes;
    },
    close: () => link.close(),
  };
}

function unitOf(ciphertext: Uint8Array): Uint8Array {
  return unitsOf([ciphertext]);
}

/** `varint(len) || ciphertext` of each, joined. */
function unitsOf(ciphertexts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const c of ciphertexts) length += varintLength(c.length) + c.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of ciphertexts) {
    at = writeVarint(c.length, out, at);
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Largest first unit of an attaching connection (an ATTACH is 53 bytes). */
export const MAX_ATTACH_UNIT = 128;

/**
 * The upstream of a connection that came to attach: reads its first unit
 * (bounded), asks the hub, and from then on feeds the session's path.
 */
export class AttachingPath implements AttachedLink {
  readonly mode: string;
  readonly #link: Link;
  readonly #hub: MultipathHub;
  readonly #onDone: (ok: boolean, detail: string) => void;
  #units = new UnitDecoder();
  #state: "waiting" | "attached" | "refused" = "waiting";
  #receive: ((chunk: Uint8Array) => void) | null = null;
  #closedHook: (() => void) | null = null;
  #buffered = 0;

  constructor(link: Link, hub: MultipathHub, onDone: (ok: boolean, detail: string) => void) {
    this.#link = link;
    this.mode = link.mode;
    this.#hub = hub;
    this.#onDone = onDone;
  }

  get backlogBytes(): number {
    return this.#link.backlogBytes;
  }

  send(unit: Uint8Array): void {
    this.#link.send(unit, null);
  }

  close(): void {
    this.#link.close();
  }

  bind(receive: (chunk: Uint8Array) => void, closed: () => void): void {
    this.#receive = receive;
    this.#closedHook = closed;
  }

  /** Upstream bytes of this connection. */
  receive(chunk: Uint8Array): void {
    if (this.#state === "attached") {
      this.#receive?.(chunk);
      return;
    }
    if (this.#state === "refused") return;
    this.#buffered += chunk.length;
    let bodies: Uint8Array[];
    try {
      // The client sends its ATTACH and waits: anything more before the answer is abuse.
      if (this.#buffered > MAX_ATTACH_UNIT) {
        throw new Error(`more than ${MAX_ATTACH_UNIT} bytes before the attach completed`);
      }
      bodies = this.#units.push(chunk);
    } catch (error) {
      this.refuse((error as Error).message);
      return;
    }
    if (bodies.length === 0) return;
    try {
      this.#hub.attach(bodies[0], this);
    } catch (error) {
      this.refuse(error instanceof AttachError ? error.message : String(error));
      return;
    }
    this.#state = "attached";
    this.#onDone(true, "attached");
    // Whatever came behind the ATTACH belongs to the path.
    const rest = bodies.slice(1);
    if (rest.length > 0) { for (const body of rest) this.#receive?.(unitOf(body)); }
  }

  /** Refuses the attach with an Error frame and closes the connection. */
  refuse(detail: string): void {
    if (this.#state !== "waiting") return;
    this.#state = "refused";
    this.#link.send(
      encodeFrame(controlFrame(FrameType.Error, 0, 1, { error: "attach", detail })),
      null,
    );
    this.#link.close();
    this.#onDone(false, detail);
  }

  /** The connection closed (either side). */
  closed(): void {
    if (this.#state === "waiting") {
      this.#state = "refused";
      this.#onDone(false, "closed before attaching");
    } else if (this.#state === "attached") this.#closedHook?.();
  }
}

/** 32 random bytes for the Ack's `multipath.secret`. */
export function newPathSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(PATH_SECRET_BYTES));
}
