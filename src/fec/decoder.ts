/**
 * The FEC decoder: packets in any order, from any path, duplicated or not;
 * an object out once enough of its symbols arrived. Bounded memory: the
 * declared transfer length is capped before anything is buffered, objects in
 * flight and buffered bytes have budgets (the oldest unfinished object is
 * evicted to make room; a single object larger than the whole budget is
 * refused), an object that has not completed within its timeout is dropped,
 * and an object that does not decode from K + `maxExtraSymbols` symbols is
 * abandoned (corrupt symbols; the AEAD above would refuse its bytes anyway).
 *
 * Completed object ids are remembered (a bounded window) so that their late
 * repair packets are dropped as duplicates instead of starting a new object.
 *
 * The engine is called once the object holds K symbols (never before: RaptorQ
 * cannot decode from fewer), and not at all when all K source symbols came:
 * the object is then their concatenation (RaptorQ is systematic). With
 * `sourceGraceMs`, an object that holds K symbols but not all its sources
 * waits that long for the missing sources before the engine is called:
 * packets spread over several paths arrive path by path, and K symbols are
 * usually held (repair symbols included) before the last path's sources
 * come, so without the wait nearly every object would be RaptorQ-decoded
 * although nothing was lost (the multipath receiver: src/multipath/raptorq.ts).
 * After a wait that ended without the sources (a path really is missing), the
 * objects of the next `sourceGraceMs` × 50 are decoded without waiting.
 *
 * Only the engine call is asynchronous: {@link FecDecoder.offer} parses,
 * stores and concatenates synchronously (no promise per packet).
 *
 * @module
 */
import type { RaptorqEngine } from "./engine.ts";
import {
  FecBufferFullError,
  FecMalformedPacketError,
  FecObjectTooLargeError,
  FecUndecodableError,
} from "./errors.ts";
import { MAX_TRANSFER_LENGTH, parseFecPacket, sourceSymbolCount } from "./packet.ts";

/** Limits of a {@link FecDecoder}; every one has a default. */
export interface FecDecoderLimits {
  /** Largest declared object (default 1 MiB, at most 8 MiB). */
  maxTransferLength?: number;
  /** Unfinished objects held at once (default 64). */
  maxObjects?: number;
  /** Symbol bytes held across all unfinished objects (default 16 MiB). */
  maxBufferedBytes?: number;
  /** Symbols beyond K tried before an object is abandoned (default 32). */
  maxExtraSymbols?: number;
  /** Completed or abandoned object ids remembered (default 4096). */
  rememberedObjects?: number;
  /** An unfinished object is dropped this long after its first packet (default 30 s). */
  objectTimeoutMs?: number;
  /**
   * How long an object holding K symbols but not all K sources waits for the
   * rest before RaptorQ decoding, ms (default 0: decode at once).
   */
  sourceGraceMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** Counters of a {@link FecDecoder}. */
export interface FecDecoderStats {
  /** Objects delivered. */
  completed: number;
  /** …of which needed RaptorQ decoding (some source symbol was missing). */
  decoded: number;
  /** Packets dropped as duplicates (same symbol, or an object already finished). */
  duplicates: number;
  /** Unfinished objects evicted for room or dropped at their timeout. */
  evicted: number;
  /** Objects abandoned as undecodable. */
  abandoned: number;
  /** Unfinished objects now. */
  inFlight: number;
  /** Symbol bytes held now. */
  bufferedBytes: number;
}

interface PendingObject {
  readonly transferLength: number;
  readonly symbolSize: number;
  readonly k: number;
  readonly createdAt: number;
  /** ESI → raptorq-serialised packet (own copy). */
  readonly symbols: Map<number, Uint8Array>;
  /** Source symbols (ESI < K) held. */
  sourceHeld: number;
  /** An engine call is in flight. */
  decoding: boolean;
  /** The source grace ended (or was skipped): K symbols are decoded at once. */
  graceOver: boolean;
  /** The grace timer, while one runs. */
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Settles the promise of the packet that started the grace (once). */
  settle: ((out: Uint8Array | null, error?: unknown) => void) | null;
}

/** Reassembles objects from FEC packets; see the module doc. */
export class FecDecoder {
  readonly #engine: RaptorqEngine;
  readonly #maxTransferLength: number;
  readonly #maxObjects: number;
  readonly #maxBufferedBytes: number;
  readonly #maxExtraSymbols: number;
  readonly #remembered: number;
  readonly #timeoutMs: number;
  readonly #graceMs: number;
  readonly #now: () => number;
  /** No grace for objects started before this (a grace ended without the sources lately). */
  #noGraceUntil = -Infinity;
  readonly #pending = new Map<number, PendingObject>();
  readonly #finished = new Set<number>();
  #bufferedBytes = 0;
  readonly #stats = { completed: 0, decoded: 0, duplicates: 0, evicted: 0, abandoned: 0 };

  constructor(engine: RaptorqEngine, limits: FecDecoderLimits = {}) {
    this.#engine = engine;
    this.#maxTransferLength = Math.min(limits.maxTransferLength ?? 1 << 20, MAX_TRANSFER_LENGTH);
    this.#maxObjects = limits.maxObjects ?? 64;
    this.#maxBufferedBytes = limits.maxBufferedBytes ?? 16 << 20;
    this.#maxExtraSymbols = limits.maxExtraSymbols ?? 32;
    this.#remembered = limits.rememberedObjects ?? 4096;
    this.#timeoutMs = limits.objectTimeoutMs ?? 30_000;
    this.#graceMs = limits.sourceGraceMs ?? 0;
    this.#now = limits.now ?? (() => performance.now());
  }

  /** Counters and current holdings. */
  get stats(): FecDecoderStats {
    return { ...this.#stats, inFlight: this.#pending.size, bufferedBytes: this.#bufferedBytes };
  }

  /**
   * Takes one packet: the object's bytes when this packet completed it, else
   * null (more needed, or a duplicate). Rejects with a typed `FecError` for a
   * malformed packet, an object over the size limit, a budget that cannot
   * hold it, or an object abandoned as undecodable. See {@link offer}.
   */
  push(packet: Uint8Array): Promise<Uint8Array | null> {
    try {
      return Promise.resolve(this.offer(packet));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@link push} without a promise where none is needed: the object (its
   * sources all came: concatenation) or null at once, or a promise when the
   * engine is called or the source grace runs (it settles with the object,
   * or null when the object completed otherwise meanwhile); throws (not
   * rejects) for a malformed packet, an object over the limit or a full
   * budget. Each object comes out exactly once, from one call.
   */
  offer(bytes: Uint8Array): Uint8Array | null | Promise<Uint8Array | null> {
    const p = parseFecPacket(bytes);
    this.#expire();
    if (this.#finished.has(p.objectId)) {
      this.#stats.duplicates++;
      return null;
    }
    let object = this.#pending.get(p.objectId);
    if (
      object && (object.transferLength !== p.transferLength || object.symbolSize !== p.symbolSize)
    ) {
      throw new FecMalformedPacketError(
        `object ${p.objectId} was ${object.transferLength}/${object.symbolSize}, ` +
          `this packet says ${p.transferLength}/${p.symbolSize}`,
      );
    }
    if (!object) {
      if (p.transferLength > this.#maxTransferLength) {
        throw new FecObjectTooLargeError(p.transferLength, this.#maxTransferLength);
      }
      while (this.#pending.size >= this.#maxObjects) this.#evictOldest();
      const now = this.#now();
      object = {
        transferLength: p.transferLength,
        symbolSize: p.symbolSize,
        k: sourceSymbolCount(p.transferLength, p.symbolSize),
        createdAt: now,
        symbols: new Map(),
        sourceHeld: 0,
        decoding: false,
        graceOver: this.#graceMs <= 0 || now < this.#noGraceUntil,
        graceTimer: undefined,
        settle: null,
      };
      this.#pending.set(p.objectId, object);
    }
    if (object.symbols.has(p.esi)) {
      this.#stats.duplicates++;
      return null;
    }
    const cost = p.raptorq.length;
    while (this.#bufferedBytes + cost > this.#maxBufferedBytes) {
      if (!this.#evictOldest(p.objectId)) {
        throw new FecBufferFullError(cost, this.#maxBufferedBytes);
      }
    }
    object.symbols.set(p.esi, p.raptorq.slice());
    this.#bufferedBytes += cost;
    if (p.esi < object.k) object.sourceHeld++;
    if (object.symbols.size < object.k) return null;
    if (object.sourceHeld === object.k) {
      // Systematic: the sources are the object (a decode in flight, or a grace, gives way).
      const out = concatSource(object);
      this.#stats.completed++;
      this.#drop(p.objectId, true);
      return out;
    }
    if (object.decoding) return null; // its result, or the next packet, decides
    if (object.graceOver) return this.#decode(p.objectId, object);
    if (object.graceTimer !== undefined) return null;
    const id = p.objectId;
    const held = object;
    return new Promise<Uint8Array | null>((resolve, reject) => {
      held.settle = (out, error) => (error === undefined ? resolve(out) : reject(error));
      held.graceTimer = setTimeout(() => {
        held.graceTimer = undefined;
        held.graceOver = true;
        if (this.#pending.get(id) !== held) return; // settled when it was dropped
        this.#noGraceUntil = this.#now() + 50 * this.#graceMs;
        const settle = held.settle!;
        held.settle = null;
        this.#decode(id, held).then((out) => settle(out), (error) => settle(null, error));
      }, this.#graceMs);
    });
  }

  /** Drops every unfinished object (their bytes are released). */
  clear(): void {
    for (const id of [...this.#pending.keys()]) this.#drop(id, false);
  }

  /** Frees what is held (the `FecReceiver` port of multipath sessions). */
  close(): void {
    this.clear();
  }

  /** RaptorQ-decodes `object` from what it holds now. */
  async #decode(objectId: number, object: PendingObject): Promise<Uint8Array | null> {
    object.decoding = true;
    const held = object.symbols.size;
    let out: Uint8Array | null;
    try {
      out = await this.#engine.decode(
        object.transferLength,
        object.symbolSize,
        [...object.symbols.values()],
      );
    } finally {
      object.decoding = false;
    }
    // Completed by its sources, evicted or timed out meanwhile: nothing more to give.
    if (this.#pending.get(objectId) !== object) return null;
    if (out) {
      this.#stats.decoded++;
      this.#stats.completed++;
      this.#drop(objectId, true);
      return out;
    }
    if (object.symbols.size >= object.k + this.#maxExtraSymbols) {
      this.#stats.abandoned++;
      this.#drop(objectId, true);
      throw new FecUndecodableError(objectId, object.symbols.size);
    }
    // Symbols that came during the call were not tried: try them now.
    return object.symbols.size > held ? this.#decode(objectId, object) : null;
  }

  /** Drops objects past their timeout (oldest first: the map is in creation order). */
  #expire(): void {
    const limit = this.#now() - this.#timeoutMs;
    for (const [id, object] of this.#pending) {
      if (object.createdAt > limit) break;
      this.#stats.evicted++;
      this.#drop(id, true);
    }
  }

  /** Evicts the oldest unfinished object other than `keep`; false when there is none. */
  #evictOldest(keep?: number): boolean {
    for (const id of this.#pending.keys()) {
      if (id === keep) continue;
      this.#stats.evicted++;
      this.#drop(id, true);
      return true;
    }
    return false;
  }

  #drop(objectId: number, remember: boolean): void {
    const object = this.#pending.get(objectId);
    if (object) {
      for (const s of object.symbols.values()) this.#bufferedBytes -= s.length;
      this.#pending.delete(objectId);
      clearTimeout(object.graceTimer);
      object.graceTimer = undefined;
      const settle = object.settle;
      object.settle = null;
      settle?.(null); // completed by a later packet (which returned it), or dropped
    }
    if (!remember) return;
    this.#finished.add(objectId);
    if (this.#finished.size > this.#remembered) {
      this.#finished.delete(this.#finished.values().next().value!);
    }
  }
}

/** The object from its K source symbols (the last one's padding cut). */
function concatSource(object: PendingObject): Uint8Array {
  const out = new Uint8Array(object.transferLength);
  const t = object.symbolSize;
  for (let esi = 0; esi < object.k; esi++) {
    const symbol = object.symbols.get(esi)!.subarray(4);
    out.set(symbol.subarray(0, Math.min(t, object.transferLength - esi * t)), esi * t);
  }
  return out;
}
