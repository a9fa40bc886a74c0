/**
 * The server's side of one multipath session: {@link ServerPaths}, the `Link`
 * a session's outbound writes to once multipath started: each unit goes to
 * the endpoint, which schedules it over the session's paths. The hub that
 * knows every session is hub.ts; a connection that comes to attach is
 * attaching.ts.
 *
 * @module
 */
import { decodeVarint, varintLength, writeVarint } from "../proto/mod.ts";
import type { Link, UnitHeader } from "../transport/mod.ts";
import type { AttachedLink } from "./attaching.ts";
import { MultipathEndpoint, type PathLink, type PathStatus } from "./endpoint.ts";
import type { FecCodec } from "./fec.ts";
import type { MultipathHub } from "./hub.ts";
import type { PathKeys } from "./keys.ts";
import type { FecPolicy } from "./policy.ts";
import { attachedUnit } from "./wire.ts";

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

function pathOf(link: Link): PathLink {
  return {
    send: (unit) => link.send(unit, null),
    get backlogBytes() {
      return link.backlogBytes;
    },
    close: () => link.close(),
  };
}

/** `varint(len) || ciphertext`: one session unit. */
export function unitOf(ciphertext: Uint8Array): Uint8Array {
  return unitsOf([ciphertext]);
}

/** `varint(len) || ciphertext` of each, joined. */
export function unitsOf(ciphertexts: readonly Uint8Array[]): Uint8Array {
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
