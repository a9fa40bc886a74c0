/**
 * Every multipath session of one server: the hub (one per server, never a
 * module global) knows each session by its path-set id, checks attach tokens
 * and counts what the sessions did.
 *
 * @module
 */
import type { Link } from "../transport/mod.ts";
import type { PathLink, PathStatus } from "./endpoint.ts";
import { PATH_SECRET_BYTES, PathKeys } from "./keys.ts";
import {
  AttachError,
  type MultipathSettings,
  ServerPaths,
  type ServerPathsSide,
} from "./server.ts";
import { decodePathUnit } from "./wire.ts";

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

/** 32 random bytes for the Ack's `multipath.secret`. */
export function newPathSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(PATH_SECRET_BYTES));
}
