/**
 * A connection that came to attach a path to a multipath session: its first
 * unit (bounded) is the ATTACH the hub checks; from then on it feeds the
 * session's path.
 *
 * @module
 */
import { controlFrame, encodeFrame, FrameType, UnitDecoder } from "../proto/mod.ts";
import type { Link } from "../transport/mod.ts";
import type { PathLink } from "./endpoint.ts";
import type { MultipathHub } from "./hub.ts";
import { AttachError, unitOf } from "./server.ts";

/** A path link the attach handler builds; `bind` routes its upstream once attached. */
export interface AttachedLink extends PathLink {
  readonly mode: string;
  bind?(receive: (chunk: Uint8Array) => void, closed: () => void): void;
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
