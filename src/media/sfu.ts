/**
 * The selective forwarding unit: a call's VoiceFrame/VideoFrame go to the
 * other accepted participants that are connected to this instance, never to
 * the sender, never into the offline queue (a late media frame is useless).
 *
 * Each recipient has a small bounded queue used only while its connection
 * has no room (see {@link Peer.hasRoomForMedia}): when full, the oldest
 * audio frame is dropped; video from a sender is dropped up to that sender's
 * next key frame (a decoder cannot use a frame whose reference was lost), and
 * the sender is asked for a key frame.
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";
import type { Peer, PeerRegistry } from "../router/mod.ts";

/** Why the SFU did not deliver a media frame. */
export type MediaDropReason = "offline" | "audio_overflow" | "video_skipped" | "closed";

/** What the SFU reports to (metrics, key frame requests). */
export interface SfuHooks {
  /** A frame reached a recipient's connection. */
  forwarded?(kind: "audio" | "video", bytes: number): void;
  /** Frames not delivered to a recipient. */
  dropped?(kind: "audio" | "video", reason: MediaDropReason, count: number): void;
  /** `recipient` needs a key frame from `sender` on `channel`. */
  requestKeyFrame?(channel: number, sender: string): void;
}

/** Limits of the {@link Sfu}. */
export interface SfuOptions {
  registry: PeerRegistry;
  /** Audio frames queued per recipient at most (20 ms each); default 16. */
  maxQueuedAudio?: number;
  /** Video frames queued per recipient at most; default 8. */
  maxQueuedVideo?: number;
  /** How often a recipient with queued frames is looked at again, ms; default 10. */
  retryMs?: number;
  hooks?: SfuHooks;
}

/** A media frame to forward. */
export interface MediaItem {
  frame: Frame;
  kind: "audio" | "video";
  /** The device that sent it. */
  sender: string;
  /** Video only: the frame can be decoded on its own. */
  keyFrame: boolean;
}

interface Recipient {
  peer: Peer;
  queue: MediaItem[];
  audio: number;
  video: number;
  /** `channel:sender` whose video is skipped up to the next key frame. */
  waitKey: Set<string>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Forwards call media to live participants. */
export class Sfu {
  readonly #o: Required<Omit<SfuOptions, "hooks">> & { hooks: SfuHooks };
  readonly #recipients = new Map<string, Recipient>();

  constructor(options: SfuOptions) {
    this.#o = {
      registry: options.registry,
      maxQueuedAudio: options.maxQueuedAudio ?? 16,
      maxQueuedVideo: options.maxQueuedVideo ?? 8,
      retryMs: options.retryMs ?? 10,
      hooks: options.hooks ?? {},
    };
  }

  /** Recipients with frames waiting (for tests and metrics). */
  queued(deviceId: string): number {
    return this.#recipients.get(deviceId)?.queue.length ?? 0;
  }

  /**
   * Sends `item` to each device of `recipients` except its sender. The one
   * frame object goes to every recipient: each connection encodes it behind
   * its own sequence and seals it in its own write.
   */
  forward(recipients: Iterable<string>, item: MediaItem): void {
    const sender = item.sender;
    for (const device of recipients) {
      if (device !== sender) this.#forwardTo(device, item);
    }
  }

  /**
   * `device` joined the media of the call on `channel` whose other senders
   * are `senders`: its video from them starts at a key frame, which they are
   * asked for.
   */
  joined(channel: number, device: string, senders: Iterable<string>, video: boolean): void {
    if (!video) return;
    const r = this.#recipient(device);
    for (const sender of senders) {
      if (sender === device) continue;
      r?.waitKey.add(`${channel}:${sender}`);
      this.#o.hooks.requestKeyFrame?.(channel, sender);
    }
  }

  /** Forgets what `device` had queued (it left the call or disconnected). */
  forget(device: string): void {
    const r = this.#recipients.get(device);
    if (!r) return;
    clearTimeout(r.timer);
    this.#recipients.delete(device);
    this.#dropAll(r, "closed");
  }

  /** Stops every retry timer; queued frames are dropped. */
  close(): void {
    for (const device of [...this.#recipients.keys()]) this.forget(device);
  }

  #recipient(device: string): Recipient | undefined {
    const peer = this.#o.registry.get(device);
    const r = this.#recipients.get(device);
    if (r !== undefined) {
      if (r.peer === peer) return r;
      // The device reconnected (or left): what was queued was for the old connection.
      this.forget(device);
    }
    if (peer === undefined) return undefined;
    const fresh: Recipient = {
      peer,
      queue: [],
      audio: 0,
      video: 0,
      waitKey: new Set(),
      timer: undefined,
    };
    this.#recipients.set(device, fresh);
    return fresh;
  }

  #forwardTo(device: string, item: MediaItem): void {
    const r = this.#recipient(device);
    if (r === undefined) {
      this.#o.hooks.dropped?.(item.kind, "offline", 1);
      return;
    }
    if (item.kind === "video" && r.waitKey.size > 0) {
      const key = `${item.frame.channel}:${item.sender}`;
      if (r.waitKey.has(key)) {
        if (!item.keyFrame) {
          this.#o.hooks.dropped?.("video", "video_skipped", 1);
          return;
        }
        r.waitKey.delete(key);
      }
    }
    if (r.queue.length === 0 && this.#deliverNow(r, item)) return;
    this.#enqueue(r, item);
    this.#schedule(device, r);
  }

  #enqueue(r: Recipient, item: MediaItem): void {
    const hooks = this.#o.hooks;
    if (item.kind === "audio") {
      if (r.audio >= this.#o.maxQueuedAudio) {
        const oldest = r.queue.findIndex((i) => i.kind === "audio");
        r.queue.splice(oldest, 1);
        r.audio--;
        hooks.dropped?.("audio", "audio_overflow", 1);
      }
      r.queue.push(item);
      r.audio++;
      return;
    }
    if (r.video < this.#o.maxQueuedVideo) {
      r.queue.push(item);
      r.video++;
      return;
    }
    // Full: this sender's queued video is useless without what is dropped, so
    // all of it goes and its video restarts at a key frame.
    const before = r.queue.length;
    r.queue = r.queue.filter((i) => i.kind === "audio" || i.sender !== item.sender);
    const removed = before - r.queue.length;
    r.video -= removed;
    if (item.keyFrame) {
      r.queue.push(item);
      r.video++;
      hooks.dropped?.("video", "video_skipped", removed);
    } else {
      r.waitKey.add(`${item.frame.channel}:${item.sender}`);
      hooks.dropped?.("video", "video_skipped", removed + 1);
      hooks.requestKeyFrame?.(item.frame.channel, item.sender);
    }
  }

  #schedule(device: string, r: Recipient): void {
    if (r.timer !== undefined) return;
    r.timer = setTimeout(() => {
      r.timer = undefined;
      this.#pump(device, r);
    }, this.#o.retryMs);
  }

  #pump(device: string, r: Recipient): void {
    if (this.#recipients.get(device) !== r) return;
    if (this.#o.registry.get(device) !== r.peer) {
      this.forget(device);
      return;
    }
    while (r.queue.length > 0 && this.#deliverNow(r, r.queue[0])) {
      if (r.queue.shift()!.kind === "audio") r.audio--;
      else r.video--;
    }
    if (r.queue.length > 0) this.#schedule(device, r);
  }

  /**
   * Delivers `item` if the recipient's connection has room for media now:
   * false when it must wait in the queue. A frame the connection refuses
   * although it had room is dropped ("closed").
   */
  #deliverNow(r: Recipient, item: MediaItem): boolean {
    const peer = r.peer;
    const hooks = this.#o.hooks;
    if (peer.deliverMedia !== undefined) {
      if (!peer.deliverMedia(item.frame)) return false;
      hooks.forwarded?.(item.kind, item.frame.payload.length);
      return true;
    }
    if (peer.hasRoomForMedia !== undefined && !peer.hasRoomForMedia()) return false;
    if (peer.deliver(item.frame)) hooks.forwarded?.(item.kind, item.frame.payload.length);
    else hooks.dropped?.(item.kind, "closed", 1);
    return true;
  }

  #dropAll(r: Recipient, reason: MediaDropReason): void {
    if (r.audio > 0) this.#o.hooks.dropped?.("audio", reason, r.audio);
    if (r.video > 0) this.#o.hooks.dropped?.("video", reason, r.video);
    r.queue = [];
    r.audio = 0;
    r.video = 0;
  }
}
