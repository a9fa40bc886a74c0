/**
 * Friends, requests, pairing and presence for the session worker. Each
 * friendship has one channel, named by a hash of both user ids, whose route
 * holds every active device of both users: a device that sees a new device
 * (a friend's, or one of ours just paired) joins it into the route.
 * Presence and typing are live-only Typing frames on that channel.
 *
 * @module
 */
import { blake2s } from "@noble/hashes/blake2.js";
import { type CommuCatClient, ServerError } from "../src/client/mod.ts";
import { utf8 } from "../src/crypto/bytes.ts";
import { FrameType } from "../src/proto/mod.ts";
import type { Command, Friend, ViewState } from "./messages.ts";
import { api } from "./rest.ts";

/** A friend counts as online this long after their last live ping. */
const ONLINE_FOR_MS = 25_000;
/** A typing notice shows this long. */
const TYPING_FOR_MS = 4_000;

/** Channel ids 1..65535 are left to other clients and server notices. */
const CHANNEL_BASE = 0x10000;
const CHANNEL_SPAN = 0x7fff0000;

/** The channel of the friendship of two users (the same on both sides). */
export function friendshipChannel(userA: string, userB: string): number {
  const [a, b] = [userA, userB].sort();
  const digest = blake2s(utf8(`commucat-web:friendship:${a}\n${b}`));
  const value = new DataView(digest.buffer, digest.byteOffset).getUint32(0, true);
  return CHANNEL_BASE + (value % CHANNEL_SPAN);
}

interface FriendsReply {
  friends: { user_id: string; handle?: string }[];
  devices: Record<string, { device_id: string; status: string }[]>;
}
interface RequestsReply {
  incoming: { from_user_id: string; from_handle?: string; status: string }[];
  outgoing: { to_user_id: string; to_handle?: string; status: string }[];
}
interface DevicesReply {
  devices: { device_id: string; status: string }[];
}

/** The friends part of the view, kept current from the REST API and live frames. */
export class Friends {
  #view: ViewState;
  #changed: () => void;
  #token = "";
  /** channel → the member list last joined into it. */
  #joined = new Map<number, string>();
  #lastSeen = new Map<number, number>();
  #typingUntil = new Map<number, number>();
  #lastTypingSent = 0;

  constructor(view: ViewState, changed: () => void) {
    this.#view = view;
    this.#changed = changed;
    setInterval(() => this.#expire(), 1_000);
  }

  /** Reloads friends, requests and devices, and joins new devices into each friendship channel. */
  async refresh(client: CommuCatClient, token: string): Promise<void> {
    this.#token = token;
    const [friends, requests, mine] = await Promise.all([
      api<FriendsReply>("/api/friends", { token }),
      api<RequestsReply>("/api/friends/requests", { token }),
      api<DevicesReply>("/api/devices", { token }),
    ]);
    const myUser = client.session.userId;
    const active = (list: { device_id: string; status: string }[] = []) =>
      list.filter((d) => d.status === "active").map((d) => d.device_id);
    const myDevices = active(mine.devices);
    const previous = new Map(this.#view.friends.map((f) => [f.userId, f]));
    const list: Friend[] = [];
    for (const entry of friends.friends) {
      const theirs = active(friends.devices[entry.user_id]);
      if (theirs.length === 0) continue; // not mutual yet
      const channel = friendshipChannel(myUser, entry.user_id);
      list.push({
        userId: entry.user_id,
        handle: entry.handle ?? entry.user_id,
        channel,
        online: previous.get(entry.user_id)?.online ?? false,
        typing: previous.get(entry.user_id)?.typing ?? false,
        devices: theirs,
        secure: previous.get(entry.user_id)?.secure ?? false,
        members: previous.get(entry.user_id)?.members ?? 0,
        safety: previous.get(entry.user_id)?.safety ?? null,
      });
      const members = [...myDevices, ...theirs].filter((d) => d !== this.#view.deviceId).sort();
      this.#join(client, channel, members);
    }
    this.#view.friends = list;
    this.#view.devices = myDevices;
    this.#view.incoming = requests.incoming.filter((r) => r.status === "pending").map((r) => ({
      userId: r.from_user_id,
      handle: r.from_handle ?? r.from_user_id,
    }));
    this.#view.outgoing = requests.outgoing.filter((r) => r.status === "pending").map((r) => ({
      userId: r.to_user_id,
      handle: r.to_handle ?? r.to_user_id,
    }));
    this.#changed();
  }

  #join(client: CommuCatClient, channel: number, members: string[]): void {
    const key = members.join(",");
    if (this.#joined.get(channel) === key) return;
    this.#joined.set(channel, key);
    client.join(channel, members).then(
      () => this.ping(client),
      (error) => {
        // not_member: another member (our other device, the friend) adds us; try again later.
        this.#joined.delete(channel);
        if (!(error instanceof ServerError)) return;
      },
    );
  }

  /** Tells every friend we are here (live only: nothing is queued for offline friends). */
  ping(client: CommuCatClient): void {
    for (const friend of this.#view.friends) {
      client.request(FrameType.Typing, friend.channel, { presence: "online" }).catch(() => {});
    }
  }

  /** Sends a typing notice on `channel`, at most one every 2 s. */
  typing(client: CommuCatClient, channel: number): void {
    if (Date.now() - this.#lastTypingSent < 2_000) return;
    this.#lastTypingSent = Date.now();
    client.request(FrameType.Typing, channel, { typing: true }).catch(() => {});
  }

  /** Our message went out: it ends our typing notice, so the next keystroke notifies again. */
  sentMessage(): void {
    this.#lastTypingSent = 0;
  }

  /** A live frame from a friend's device arrived on `channel`. */
  onLive(channel: number, body: Record<string, unknown>): void {
    const friend = this.#view.friends.find((f) => f.channel === channel);
    if (!friend) return;
    this.#lastSeen.set(channel, Date.now());
    friend.online = true;
    if (body.typing === true) this.#typingUntil.set(channel, Date.now() + TYPING_FOR_MS);
    if (body.typing === false) this.#typingUntil.delete(channel);
    friend.typing = this.#typingUntil.has(channel);
    this.#changed();
  }

  #expire(): void {
    let changed = false;
    const now = Date.now();
    for (const friend of this.#view.friends) {
      const online = now - (this.#lastSeen.get(friend.channel) ?? 0) < ONLINE_FOR_MS;
      const typing = (this.#typingUntil.get(friend.channel) ?? 0) > now;
      if (online !== friend.online || typing !== friend.typing) changed = true;
      friend.online = online;
      friend.typing = typing;
    }
    if (changed) this.#changed();
  }

  /** Pairing and friend-request commands. */
  async command(client: CommuCatClient, command: Command): Promise<void> {
    const token = this.#token;
    switch (command.cmd) {
      case "pair": {
        const reply = await api<{ pair_code: string }>("/api/pair", {
          method: "POST",
          token,
          body: {},
        });
        this.#view.pairCode = reply.pair_code;
        break;
      }
      case "befriend":
        await api(`/api/friends/requests/${encodeURIComponent(command.handle.trim())}`, {
          method: "POST",
          token,
          body: {},
        });
        break;
      case "accept":
      case "reject":
        await api(`/api/friends/requests/${encodeURIComponent(command.userId)}/${command.cmd}`, {
          method: "POST",
          token,
          body: {},
        });
        break;
      default:
        return;
    }
    this.#changed();
    await this.refresh(client, token);
  }
}
