/**
 * The durable-copy window across instances (PROTOCOL.md §4 "Several
 * instances"). A queued-type frame for a device connected to another
 * instance is handled like a live delivery here: its copy is held in this
 * (the origin) instance's window (kept_copies.ts) and carried on the bus to
 * the device's holder with its envelope id and `origin`, without a row. The
 * holder delivers it and, when the device acknowledges it, tells the origin
 * (`kept-copies` `acked`), which drops the copy — so a message acknowledged
 * within the window costs no PostgreSQL write at all, where a written row
 * cost an insert and a delete. The sender's Ack waits, as for a local live
 * delivery, until the copy is acknowledged or written.
 *
 * The holder stores a copy itself (a row of its own, then `acked`) when it
 * cannot deliver it now: the device is gone, over its bound, or its queue is
 * being read (a row must not overtake the queue), and then delivers that
 * device's next carried rows through the queue until its row is written, so
 * one sender's frames keep their order. A connection that ends before the
 * device acknowledged a copy `released`s it: the origin writes it at once
 * and tells the device's holder, as for a local connection's held copies.
 * A lost bus message delays delivery at most: an unacknowledged copy is
 * written when its window ends.
 *
 * This module keeps the bookkeeping of both sides (presence answers of the
 * origin, copies delivered and stored by the holder, the messages of each
 * turn); offline_queue.ts does the keeping and writing.
 *
 * @module
 */
import type { Bus, HeldCopiesMessage, KeptCopyRef } from "./bus.ts";
import { MAX_NOTICE_FRAME_BYTES, MAX_NOTICE_ROWS } from "./offline_notices.ts";
import type { Peer } from "./peer.ts";
import type { Presence } from "./presence.ts";
import { TakenCopies } from "./taken_copies.ts";

/** Connection id of a held copy delivered through the bus: `bus:<holder instance>`. */
export const REMOTE_CONNECTION_PREFIX = "bus:";

/** How long a presence answer is reused (ms); a stale one costs a detour, never a frame. */
export const PRESENCE_CACHE_MS = 1_000;
/**
 * An answer used with less than this left is read again in the background,
 * so a device in steady traffic never meets an expired one (ms).
 */
export const PRESENCE_REFRESH_AHEAD_MS = 250;
const MAX_CACHED_PRESENCE = 65_536;

/** Dependencies of {@link RemoteCopies}. */
export interface RemoteCopiesOptions {
  presence: Presence;
  bus: Bus;
  instanceId: string;
  now: () => number;
  /** Stores a carried copy as a row of this instance's device queue; resolves once its holder was told. */
  storeHere(deviceId: string, payload: Uint8Array): Promise<void>;
}

/** Counters for metrics and the load tool. */
export interface RemoteCopiesStats {
  /** Copies this instance held and carried to another instance's device. */
  sent: number;
  /** Copies carried here that a device of this instance took live. */
  taken: number;
  /** Copies carried here that this instance stored itself (could not deliver them now). */
  stored: number;
  /** `held-copies` messages sent (copies and answers together; the bus's cost per delivery). */
  messages: number;
}

/** What this instance tells one other instance this turn. */
export interface Outgoing {
  copies: HeldCopiesMessage["copies"];
  acked: KeptCopyRef[];
  released: KeptCopyRef[];
}

/** Both sides' bookkeeping of held copies crossing instances; see the module doc. */
export class RemoteCopies {
  readonly stats: RemoteCopiesStats = { sent: 0, taken: 0, stored: 0, messages: 0 };
  readonly #o: RemoteCopiesOptions;
  /** Device → holding instance ("" = not connected elsewhere) and until when the answer holds. */
  readonly #presence = new Map<string, { instance: string; until: number }>();
  /** Devices whose presence is being read, and that read (shared by whoever needs it meanwhile). */
  readonly #looking = new Map<string, Promise<void>>();
  /** Holder side: copies delivered here and not yet acknowledged, by envelope id. */
  readonly #taken = new TakenCopies();
  /** Holder side: devices whose carried copies are being stored here (count). */
  readonly #storing = new Map<string, number>();
  /** Both sides: what each other instance is told next (one message, bus.ts `held-copies`). */
  #outgoing = new Map<string, Outgoing>();
  /** Instances whose last message is not yet published (Redis has not answered). */
  readonly #inFlight = new Set<string>();
  #flushScheduled = false;

  constructor(options: RemoteCopiesOptions) {
    this.#o = options;
  }

  // ---- origin side ----

  /**
   * The instances other than this one holding `devices` (absent: offline or
   * here); null when the bus is down (the frames are then written first, as
   * without the window). Synchronous when every answer is cached.
   *
   * One read per device at a time: a device whose answer is being read
   * waits for that read instead of sending its own (every frame sent
   * meanwhile did: a burst of MGETs, each taking the admission's
   * asynchronous path, at each expiry). An answer close to its expiry is
   * read again in the background, so steady traffic keeps the synchronous
   * path; answers are still at most {@link PRESENCE_CACHE_MS} old.
   */
  holders(devices: readonly string[]): Map<string, string> | Promise<Map<string, string>> | null {
    if (!this.#o.bus.healthy) return null;
    const now = this.#o.now();
    const found = new Map<string, string>();
    let missing: string[] | null = null;
    let waits: Promise<void>[] | null = null;
    for (const deviceId of devices) {
      const cached = this.#presence.get(deviceId);
      if (cached !== undefined && cached.until > now) {
        if (cached.instance !== "") found.set(deviceId, cached.instance);
        if (cached.until - now <= PRESENCE_REFRESH_AHEAD_MS && !this.#looking.has(deviceId)) {
          this.#lookUp([deviceId]).catch(() => {}); // a failure: it expires, and is read when needed
        }
        continue;
      }
      const reading = this.#looking.get(deviceId);
      if (reading !== undefined) (waits ??= []).push(reading);
      else (missing ??= []).push(deviceId);
    }
    if (missing === null && waits === null) return found;
    if (missing !== null) (waits ??= []).push(this.#lookUp(missing));
    const read = waits!.length === 1 ? waits![0] : Promise.all(waits!);
    // A failed read rejects: the caller writes the frames first (presence down).
    return read.then(() => {
      for (const deviceId of devices) {
        // Not cached now (the cache was cleared meanwhile): as if not elsewhere, a row.
        const instance = this.#presence.get(deviceId)?.instance;
        if (instance) found.set(deviceId, instance);
      }
      return found;
    });
  }

  /** Reads the presence of `devices` into the cache; one read per device at a time. */
  #lookUp(devices: string[]): Promise<void> {
    const read = this.#o.presence.getMany(devices).then((entries) => {
      if (this.#presence.size >= MAX_CACHED_PRESENCE) this.#presence.clear();
      const until = this.#o.now() + PRESENCE_CACHE_MS;
      devices.forEach((deviceId, i) => {
        const entry = entries[i];
        const instance = entry && entry.instance !== this.#o.instanceId ? entry.instance : "";
        const cached = this.#presence.get(deviceId);
        // Renewed in place: no object per read of a device in steady traffic.
        if (cached === undefined) this.#presence.set(deviceId, { instance, until });
        else {
          cached.instance = instance;
          cached.until = until;
        }
      });
    });
    for (const deviceId of devices) this.#looking.set(deviceId, read);
    const done = () => {
      for (const deviceId of devices) {
        if (this.#looking.get(deviceId) === read) this.#looking.delete(deviceId);
      }
    };
    read.then(done, done);
    return read;
  }

  /** Carries the held copy `envelopeId` (`frame`: the encoded frame) to `holder`, with this turn's. */
  send(holder: string, deviceId: string, envelopeId: string, frame: Uint8Array): void {
    this.stats.sent++;
    this.#to(holder).copies.push({ deviceId, envelopeId, frame });
  }

  /** Forgets the presence answer of `deviceId` (its holder could not take a copy). */
  forgetHolder(deviceId: string): void {
    this.#presence.delete(deviceId);
  }

  // ---- holder side ----

  /** True while a copy carried for `deviceId` is being stored here: its next ones go the same way. */
  storing(deviceId: string): boolean {
    return this.#storing.has(deviceId);
  }

  /**
   * A copy held by `origin` was carried here (no row yet): `peer` delivers
   * it when it can take it now (its origin is told when the device
   * acknowledges it); otherwise it is stored here as a row of the device's
   * queue, read as any other, and then acked to its origin. True when
   * delivered live.
   */
  receive(
    peer: Pick<Peer, "takeQueued"> | undefined,
    origin: string,
    ref: KeptCopyRef,
    payload: Uint8Array,
  ): boolean {
    const { deviceId, envelopeId } = ref;
    if (peer?.takeQueued && !this.#storing.has(deviceId) && peer.takeQueued(envelopeId, payload)) {
      this.stats.taken++;
      this.#taken.add(origin, envelopeId, deviceId);
      return true;
    }
    // Until stored (and the device's drain started), this device's next
    // carried frames come the same way: none may overtake this one.
    this.stats.stored++;
    this.#storing.set(deviceId, (this.#storing.get(deviceId) ?? 0) + 1);
    const ended = (ok: boolean) => {
      const left = (this.#storing.get(deviceId) ?? 1) - 1;
      if (left > 0) this.#storing.set(deviceId, left);
      else this.#storing.delete(deviceId);
      // Not stored: the origin writes it itself (released).
      this.#reply(origin, ref, ok ? "acked" : "released");
    };
    this.#o.storeHere(deviceId, payload).then(() => ended(true), () => ended(false));
    return false;
  }

  /** The device acknowledged `envelopeId`: true when it was a carried copy (its origin is told). */
  acknowledged(envelopeId: string): boolean {
    // Nothing carried here (one instance): no lookup.
    const taken = this.#taken.take(envelopeId);
    if (taken === null) return false;
    this.#reply(taken.origin, { deviceId: taken.deviceId, envelopeId }, "acked");
    return true;
  }

  /** The connection holding `envelopeIds` ends: the carried ones go back to their origins. */
  released(envelopeIds: Iterable<string>): void {
    if (this.#taken.size === 0) return;
    for (const envelopeId of envelopeIds) {
      const taken = this.#taken.take(envelopeId);
      if (taken !== null) {
        this.#reply(taken.origin, { deviceId: taken.deviceId, envelopeId }, "released");
      }
    }
  }

  #reply(origin: string, ref: KeptCopyRef, kind: "acked" | "released"): void {
    this.#to(origin)[kind].push(ref);
  }

  // ---- both ----

  /**
   * What `instance` is told next; the flush is scheduled unless a message
   * to it is still on its way (then it goes when that one is answered).
   */
  #to(instance: string): Outgoing {
    let out = this.#outgoing.get(instance);
    if (out === undefined) {
      out = { copies: [], acked: [], released: [] };
      this.#outgoing.set(instance, out);
      if (!this.#inFlight.has(instance)) this.#scheduleFlush();
    }
    return out;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(this.#flush, 0);
  }

  /**
   * One bus message per other instance per turn: the copies carried to it
   * and the answers about its copies together (bus.ts `held-copies`) — and
   * at most one on its way to each instance. What comes while a message is
   * being published waits for Redis's answer and goes in the next: a
   * publish costs a write and a read on each side whatever it carries, and
   * under load the two instances' turns are short, so one message per turn
   * carried a few copies each. Waiting adds at most that round trip to
   * Redis (sub-millisecond on a quiet machine) and only while one is out.
   */
  #flush = (): void => {
    this.#flushScheduled = false;
    for (const [instance, out] of this.#outgoing) {
      if (this.#inFlight.has(instance)) continue;
      this.#outgoing.delete(instance); // (deleting the visited entry keeps the iteration valid)
      this.#publish(instance, out);
    }
  };

  #publish(instance: string, out: Outgoing): void {
    const parts = heldCopiesMessages(this.#o.instanceId, out);
    this.stats.messages += parts.length;
    // A lost message delays at most: an unacknowledged copy is written when
    // its window ends. RedisBus resolves (a publish) or rejects (its command
    // timeout) within a bounded time, and at once while Redis is down.
    const sent = parts.length === 1
      ? this.#o.bus.send(instance, parts[0])
      : Promise.all(parts.map((part) => this.#o.bus.send(instance, part)));
    this.#inFlight.add(instance);
    const answered = () => {
      this.#inFlight.delete(instance);
      if (this.#outgoing.has(instance)) this.#scheduleFlush();
    };
    sent.then(answered, answered);
  }
}

/** Copy references per message and list (receivers accept up to 4096). */
const MAX_REFS = 1024;

/**
 * `out` as `held-copies` messages: one unless it holds more than
 * {@link MAX_NOTICE_ROWS} copies, {@link MAX_NOTICE_FRAME_BYTES} of frames
 * or {@link MAX_REFS} references of a kind (copies in order).
 */
export function heldCopiesMessages(from: string, out: Outgoing): HeldCopiesMessage[] {
  const messages: HeldCopiesMessage[] = [];
  let copies: Outgoing["copies"] = [];
  let bytes = 0;
  for (const copy of out.copies) {
    if (
      copies.length > 0 &&
      (copies.length >= MAX_NOTICE_ROWS || bytes + copy.frame.length > MAX_NOTICE_FRAME_BYTES)
    ) {
      messages.push({ kind: "held-copies", from, copies, acked: [], released: [] });
      copies = [];
      bytes = 0;
    }
    copies.push(copy);
    bytes += copy.frame.length;
  }
  const refs = Math.max(out.acked.length, out.released.length);
  for (let i = 0; i < refs || (i === 0 && copies.length > 0); i += MAX_REFS) {
    messages.push({
      kind: "held-copies",
      from,
      copies: i === 0 ? copies : [],
      acked: refs <= MAX_REFS ? out.acked : out.acked.slice(i, i + MAX_REFS),
      released: refs <= MAX_REFS ? out.released : out.released.slice(i, i + MAX_REFS),
    });
  }
  return messages;
}
