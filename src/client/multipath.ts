/**
 * The client's side of a multipath session (PROTOCOL.md "Multipath"): a
 * {@link ClientChannel} the SDK writes its Noise units to and reads them
 * from, spread over several `/connect` paths by a {@link MultipathEndpoint}.
 * It attaches the extra paths after the handshake, shows their status, and
 * attaches a lost path again (with back-off) while the session lives.
 *
 * @module
 */
import {
  attachUnit,
  decodePathUnit,
  type FecCodec,
  type FecPolicy,
  MultipathEndpoint,
  type PathKeys,
  type PathStatus,
} from "../multipath/mod.ts";
import {
  type ConnectMode,
  decodeFrame,
  decodeVarint,
  encodeUnit,
  UnitDecoder,
} from "../proto/mod.ts";
import { type ClientChannel, openChannel, type WebSocketChannelOpener } from "./channel.ts";

/** How to reach the server for more paths, and what to run over them. */
export interface MultipathChannelOptions {
  url: string;
  connectPath?: string;
  caCerts?: string[];
  httpClient?: Deno.HttpClient;
  /** Opens `websocket` paths instead of the platform's `WebSocket` (./channel.ts). */
  webSocketChannel?: WebSocketChannelOpener;
  /** The paths to attach besides the first one: a mode, or a mode and a URL of its own. */
  extraPaths: PathTarget[];
  /** Per frame class (`default` for all). */
  policy?: Record<string, FecPolicy>;
  fec?: FecCodec;
  /** How long the session survives with no path (the server's `linger_ms`). */
  lingerMs: number;
  /** Called whenever a path comes or goes. */
  onPaths?(paths: PathSlotStatus[]): void;
}

/** Where an extra path goes: a mode (to the session's URL) or a mode and its own URL. */
export type PathTarget = ConnectMode | { mode: ConnectMode; url: string };

/** One wanted path and where it stands. */
export interface PathSlotStatus {
  mode: ConnectMode;
  state: "up" | "attaching" | "down";
  /** Attaches of this slot so far (1 = the first). */
  attaches: number;
  /** Endpoint counters of the path while it is up. */
  path?: PathStatus;
  /** Why it went down last. */
  lastError?: string;
}

interface Slot {
  mode: ConnectMode;
  url: string;
  state: "up" | "attaching" | "down";
  attaches: number;
  pathId: number;
  channel: ClientChannel | null;
  lastError?: string;
  timer?: ReturnType<typeof setTimeout>;
  failures: number;
}

const ATTACH_TIMEOUT_MS = 10_000;
const REATTACH_MIN_MS = 100;
const REATTACH_MAX_MS = 5_000;

/** A multipath session's paths as one channel. */
export class MultipathChannel implements ClientChannel {
  readonly mode: ConnectMode;
  readonly #keys: PathKeys;
  readonly #options: MultipathChannelOptions;
  readonly #endpoint: MultipathEndpoint;
  readonly #slots: Slot[];
  #queue: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  #finished = false;
  #closing = false;
  #counter = 0;
  #lostAll: ReturnType<typeof setTimeout> | undefined;

  /**
   * Takes over `primary` (its handshake done): `rest` are the unit bodies
   * that came behind the Ack and the unit decoder that split them (it may
   * hold part of the next unit), `more` the rest of its downstream.
   */
  constructor(
    primary: ClientChannel,
    rest: { bodies: Uint8Array[]; units: UnitDecoder },
    more: AsyncIterator<Uint8Array>,
    keys: PathKeys,
    options: MultipathChannelOptions,
  ) {
    this.mode = primary.mode;
    this.#keys = keys;
    this.#options = options;
    this.#endpoint = new MultipathEndpoint({
      side: "client",
      keys,
      policy: options.policy,
      fec: options.fec,
      deliver: (ciphertext) => this.#push(encodeUnit(ciphertext)),
      onPeerEnd: () => this.#finish(),
      onFatal: () => this.close(),
      onPathEnd: (id, _end, detail) => this.#pathEnded(id, detail),
    });
    this.#slots = [primary.mode, ...options.extraPaths].map((target) => ({
      mode: typeof target === "string" ? target : target.mode,
      url: typeof target === "string" ? options.url : target.url,
      state: "down",
      attaches: 0,
      pathId: -1,
      channel: null,
      failures: 0,
    }));
    const first = this.#slots[0];
    this.#up(first, primary, rest, more);
    for (const slot of this.#slots.slice(1)) void this.#attach(slot);
  }

  /** Where every wanted path stands. */
  status(): PathSlotStatus[] {
    const paths = new Map(this.#endpoint.paths().map((p) => [p.id, p]));
    return this.#slots.map((s) => ({
      mode: s.mode,
      state: s.state,
      attaches: s.attaches,
      path: s.state === "up" ? paths.get(s.pathId) : undefined,
      lastError: s.lastError,
    }));
  }

  /** The session's path keys (diagnostics and tests: they make attach tokens). */
  get keys(): PathKeys {
    return this.#keys;
  }

  /** Endpoint counters (sent, acked, delivered, duplicates, retransmitted…). */
  get stats() {
    return this.#endpoint.stats;
  }

  /** Resolves once `n` paths are up (or rejects after `timeoutMs`). */
  async waitForPaths(n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#slots.filter((s) => s.state === "up").length < n) {
      if (this.#finished) throw new Error("the session ended");
      if (Date.now() > deadline) {
        throw new Error(`only ${this.#endpoint.pathCount} of ${n} paths came up`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Takes one unit (`varint(len) || ciphertext`) or several joined. */
  write(bytes: Uint8Array): void {
    if (this.#finished) return;
    let at = 0;
    while (at < bytes.length) {
      const prefix = decodeVarint(bytes, at, bytes.length)!;
      const start = at + prefix.length;
      at = start + prefix.value;
      this.#endpoint.send(bytes.subarray(start, at));
    }
  }

  readonly chunks: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        while (true) {
          if (this.#queue.length > 0) {
            const all = this.#queue.length === 1 ? this.#queue[0] : concat(this.#queue);
            this.#queue = [];
            return { value: all, done: false };
          }
          if (this.#finished) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = null;
        }
      },
    }),
  };

  /** Tells the server we are done; it ends the session once it has everything. */
  end(): void {
    this.#closing = true;
    this.#endpoint.end();
  }

  close(): void {
    this.#closing = true;
    this.#endpoint.close();
    for (const slot of this.#slots) {
      clearTimeout(slot.timer);
      slot.channel?.close();
    }
    this.#finish();
  }

  #push(unit: Uint8Array): void {
    this.#queue.push(unit);
    this.#wake?.();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#closing = true;
    clearTimeout(this.#lostAll);
    for (const slot of this.#slots) clearTimeout(slot.timer);
    // The server has closed (or will): our paths go with it.
    queueMicrotask(() => this.close());
    this.#wake?.();
  }

  #up(
    slot: Slot,
    channel: ClientChannel,
    first: { bodies: Uint8Array[]; units: UnitDecoder },
    more: AsyncIterator<Uint8Array>,
  ) {
    slot.channel = channel;
    slot.state = "up";
    slot.attaches++;
    slot.failures = 0;
    slot.lastError = undefined;
    clearTimeout(this.#lostAll);
    this.#lostAll = undefined;
    const id = slot.pathId = this.#endpoint.addPath(
      {
        send: (unit) => channel.write(unit),
        backlogBytes: 0,
        close: () => channel.close(),
      },
      slot.mode,
      first.units,
    );
    this.#endpoint.receiveBodies(id, first.bodies);
    void (async () => {
      try {
        while (true) {
          const { value, done } = await more.next();
          if (done) break;
          this.#endpoint.receive(id, value);
        }
      } catch { /* the path broke: same as closed */ }
      this.#endpoint.removePath(id, "the server closed the path");
    })();
    this.#changed();
  }

  #pathEnded(id: number, detail: string): void {
    const slot = this.#slots.find((s) => s.pathId === id && s.state === "up");
    if (!slot) return;
    slot.state = "down";
    slot.pathId = -1;
    slot.channel?.close();
    slot.channel = null;
    slot.lastError = detail;
    this.#changed();
    if (this.#endpoint.pathCount === 0 && !this.#closing && this.#lostAll === undefined) {
      this.#lostAll = setTimeout(() => this.#finish(), this.#options.lingerMs);
    }
    this.#scheduleAttach(slot);
  }

  #scheduleAttach(slot: Slot): void {
    if (this.#closing || slot.state !== "down") return;
    const delay = Math.min(REATTACH_MIN_MS * 2 ** slot.failures, REATTACH_MAX_MS);
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => void this.#attach(slot), delay);
  }

  async #attach(slot: Slot): Promise<void> {
    if (this.#closing || slot.state !== "down") return;
    slot.state = "attaching";
    this.#changed();
    const counter = ++this.#counter;
    let channel: ClientChannel | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      channel = await openChannel({
        url: slot.url,
        connectPath: this.#options.connectPath,
        mode: slot.mode,
        caCerts: this.#options.caCerts,
        httpClient: this.#options.httpClient,
        webSocketChannel: this.#options.webSocketChannel,
        attach: true,
      });
      channel.write(attachUnit(this.#keys.setId, counter, this.#keys.attachToken(counter)));
      const iterator = channel.chunks[Symbol.asyncIterator]();
      const answer = await Promise.race([
        firstUnit(iterator),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer to the attach")), ATTACH_TIMEOUT_MS);
        }),
      ]);
      const unit = decodePathUnit(answer.body);
      if (unit.kind === "frame") {
        const error = decodeFrame(encodeUnit(unit.body))?.frame.control as
          | Record<string, unknown>
          | undefined;
        throw new Error(`attach refused: ${error?.detail ?? "error"}`);
      }
      if (unit.kind !== "attached" || unit.counter !== counter) {
        throw new Error(`unexpected answer to the attach (${unit.kind})`);
      }
      if (!this.#keys.verifyAttached(counter, unit.mac)) {
        throw new Error("the attach confirmation is not from our server");
      }
      if (this.#closing) {
        channel.close();
        return;
      }
      const units = new UnitDecoder();
      this.#up(slot, channel, { bodies: units.push(answer.rest), units }, iterator);
    } catch (error) {
      channel?.close();
      slot.state = "down";
      slot.failures++;
      slot.lastError = (error as Error).message;
      this.#changed();
      // The server no longer knows the session: no path will ever attach again.
      if (/does not match any session/.test(slot.lastError) && this.#endpoint.pathCount === 0) {
        this.#finish();
        return;
      }
      this.#scheduleAttach(slot);
    } finally {
      clearTimeout(timer);
    }
  }

  #changed(): void {
    this.#options.onPaths?.(this.status());
  }
}

/** Reads the first unit of a path; returns its body and the raw bytes that followed it. */
async function firstUnit(
  iterator: AsyncIterator<Uint8Array>,
): Promise<{ body: Uint8Array; rest: Uint8Array }> {
  let buffer: Uint8Array = new Uint8Array(0);
  while (true) {
    const { value, done } = await iterator.next();
    if (done) throw new Error("the server closed the path before answering the attach");
    buffer = concat([buffer, value]);
    const prefix = decodeVarint(buffer, 0, buffer.length);
    if (prefix === null) continue;
    if (prefix.value === 0 || prefix.value > 64 * 1024) throw new Error("bad answer to the attach");
    const end = prefix.length + prefix.value;
    if (buffer.length < end) continue;
    return { body: buffer.subarray(prefix.length, end), rest: buffer.subarray(end) };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
