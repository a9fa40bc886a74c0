/**
 * Where the offline queue puts a frame for devices not reached live
 * (`OfflineQueue.enqueue`): a row in each device's queue, or — for a device
 * connected to another instance when the window applies across instances —
 * a copy held in the durable-copy window and carried to that instance on
 * the bus (remote_copies.ts). The quota and presence decisions come first,
 * in call order (offline_admission.ts).
 *
 * @module
 */
import { encodedFrameLength, encodeFrame, type Frame, writeFrame } from "../proto/mod.ts";
import { MAX_CARRIED_FRAME } from "./bus.ts";
import { RouteError } from "./errors.ts";
import { FrameArena } from "./frame_arena.ts";
import { type Durability, type KeptCopies, KeptCopy } from "./kept_copies.ts";
import type { KeptIds } from "./kept_ids.ts";
import type { OfflineAdmission } from "./offline_admission.ts";
import type { OfflineRows } from "./offline_rows.ts";
import { REMOTE_CONNECTION_PREFIX, type RemoteCopies } from "./remote_copies.ts";

/** The offline queue's parts a placement uses. */
export interface PlacementDeps {
  admission: OfflineAdmission;
  /** True when copies for devices on other instances are carried (not written first). */
  carry: boolean;
  carried: RemoteCopies;
  window: KeptCopies;
  keptIds: KeptIds;
  rows: OfflineRows;
  now: () => number;
}

/** Where one enqueue's copies went ({@link OfflineQueue.enqueue}). */
interface Placed {
  /** Recipients over their bound: not queued. */
  full: string[];
  /** The rows' write and notices; null when no row was due. */
  stored: Promise<void> | null;
  /** The carried copies' acknowledgement or write; null when none was carried. */
  held: Durability | null;
}

/**
 * Where an enqueue's frame is encoded: an arena chunk and the frame's place
 * in it (small frames: the copies carried to other instances hold the chunk,
 * not bytes of their own), or (`at` = -1) bytes of its own.
 */
interface Encoded {
  bytes: Uint8Array;
  at: number;
  length: number;
}

/** Places the frames of enqueues, in call order. */
export class OfflinePlacement {
  readonly #d: PlacementDeps;
  /**
   * Chunks for the frames carried to other instances' devices (as the
   * router's for its live copies, frame_arena.ts): a carried copy lives in
   * the window until its holder answers, past a scavenge, and a frame of its
   * own was an ArrayBuffer with a native store per crossing message.
   */
  readonly #arena = new FrameArena();

  constructor(deps: PlacementDeps) {
    this.#d = deps;
  }

  /**
   * Stores `frame` for `devices` (atomically), then notifies any that came
   * online meanwhile. `senderUser` names the user whose frame it is (empty:
   * the server's own); the quota applies to every recipient, and to the
   * sender when named.
   *
   * Throws {@link RouteError}: `unavailable` when the store fails (nothing
   * stored; the sender must not be acknowledged); `queue_full` when the
   * sender is over its bound (nothing stored) or some recipients are over
   * theirs (stored for the others, not for those, which the error names).
   */
  enqueue(devices: string[], frame: Frame, senderUser = ""): Promise<void> {
    if (devices.length === 0) return Promise.resolve();
    const encoded = this.#encode(frame);
    const carry = this.#d.carry && encoded.length <= MAX_CARRIED_FRAME;
    const placed = this.#d.admission.admit(
      devices,
      encoded.length,
      senderUser,
      carry,
      (full, holders) => this.#place(devices, full, holders, encoded, senderUser),
    );
    // Every copy carried to another instance, decided at once: the caller
    // gets the window's Durability itself, so a session's Ack is released
    // synchronously by the holder's answer (as for a local live delivery).
    if (!(placed instanceof Promise) && placed.stored === null && placed.held !== null) {
      return placed.held;
    }
    return this.#settled(devices.length, placed);
  }

  /** `frame` encoded: into the arena when it is small and may be carried, else bytes of its own. */
  #encode(frame: Frame): Encoded {
    if (this.#d.carry) {
      const length = encodedFrameLength(frame, frame.sequence);
      const at = this.#arena.reserve(length);
      if (at >= 0) {
        const bytes = this.#arena.chunk;
        writeFrame(frame, frame.sequence, bytes, at);
        return { bytes, at, length };
      }
    }
    const bytes = encodeFrame(frame);
    return { bytes, at: -1, length: bytes.length };
  }

  async #settled(count: number, placing: Placed | Promise<Placed>): Promise<void> {
    const placed = await placing;
    await placed.stored;
    await placed.held;
    const full = placed.full;
    if (full.length > 0) {
      const named = full.slice(0, 5).map((d) => JSON.stringify(d)).join(", ");
      throw new RouteError(
        "queue_full",
        `the offline queue of ${full.length} recipient(s) is full (${named}${
          full.length > 5 ? ", …" : ""
        }): not queued for them` + (full.length < count ? "; queued for the others" : ""),
      );
    }
  }

  /**
   * Places one enqueue (synchronously, so in call order): a held copy
   * carried to the holder of each device in `holders`, a row for the others
   * but those `full`.
   */
  #place(
    devices: string[],
    full: string[],
    holders: Map<string, string> | null,
    encoded: Encoded,
    senderUser: string,
  ): Placed {
    const { bytes, at, length } = encoded;
    let rows = full.length === 0 ? devices : devices.filter((d) => !full.includes(d));
    let held: Durability | null = null;
    if (holders !== null && holders.size > 0) {
      const keptAt = this.#d.now();
      rows = [];
      for (const deviceId of devices) {
        const holder = holders.get(deviceId);
        if (holder === undefined) {
          if (!full.includes(deviceId)) rows.push(deviceId);
          continue;
        }
        const counter = this.#d.keptIds.nextCounter();
        const connectionId = REMOTE_CONNECTION_PREFIX + holder;
        this.#d.window.keep(
          new KeptCopy(counter, this.#d.keptIds, deviceId, bytes, keptAt, connectionId, at, length),
        );
        // A view of the chunk: read once, when this turn's bus message is encoded.
        const frame = at < 0 ? bytes : bytes.subarray(at, at + length);
        this.#d.carried.send(holder, deviceId, this.#d.keptIds.idOf(counter), frame);
      }
      // The router took the group of its live copies before calling enqueue.
      held = this.#d.window.durable();
    }
    if (rows.length === 0) return { full, stored: null, held };
    // Rows take bytes of their own: a row must not pin the arena's chunk.
    const payload = at < 0 ? bytes : bytes.slice(at, at + length);
    const stored = this.#d.rows.store(rows, payload, senderUser);
    stored.catch(() => {}); // awaited first by enqueue; marked so a rejected `held` cannot orphan it
    return { full, stored, held };
  }
}
