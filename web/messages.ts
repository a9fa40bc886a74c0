/**
 * What the page and the session worker say to each other (postMessage).
 * The worker holds the device key and the session token; the page only ever
 * sees what is listed here, so page script cannot read the token.
 *
 * @module
 */

/** Where a message of ours is (PROTOCOL.md §4 for "acknowledged"). */
export type DeliveryState = "waiting" | "sent" | "acknowledged" | "delivered" | "failed";

/** The connection as a person sees it. */
export type ConnectionState = "offline" | "connecting" | "online" | "reconnecting";

/** One chat message, ours or a friend's. */
export interface ChatMessage {
  id: string;
  /** Channel of the friendship (both users' devices are its members). */
  channel: number;
  /** Handle of the author. */
  from: string;
  mine: boolean;
  text: string;
  /** Unix ms at the author. */
  at: number;
  /** Only for ours. */
  state?: DeliveryState;
  /** Arrived in plaintext mode (not end-to-end encrypted: the server could read it). */
  plaintext?: boolean;
}

/** A friend with the friendship's channel. */
export interface Friend {
  userId: string;
  handle: string;
  channel: number;
  /** True while a live presence ping arrived recently. */
  online: boolean;
  typing: boolean;
  /** The friend's active devices. */
  devices: string[];
  /** True once the end-to-end (MLS) conversation of the channel is set up on this device. */
  secure: boolean;
  /** Devices in that conversation (this one included). */
  members: number;
  /** Safety number of this user and the friend (docs/PROTOCOL.md §8), once known. */
  safety: string | null;
}

/** A pending friend request. */
export interface FriendRequest {
  userId: string;
  handle: string;
}

/** Everything the page renders. */
export interface ViewState {
  registered: boolean;
  handle: string;
  deviceId: string;
  connection: ConnectionState;
  /** Seconds until the next reconnect attempt, while reconnecting. */
  retryIn: number | null;
  /** Why the last connection attempt failed, in words a person understands. */
  problem: string | null;
  friends: Friend[];
  incoming: FriendRequest[];
  outgoing: FriendRequest[];
  devices: string[];
  pairCode: string | null;
  /** This device's key fingerprint. */
  fingerprint: string;
  /** The last key change seen (a device's key differs from the one pinned), if any. */
  keyChange: string | null;
}

/** Page → worker. */
export type Command =
  | { cmd: "start"; pageOrigin: number }
  | { cmd: "register"; handle: string; deviceName: string }
  | { cmd: "claim"; code: string; deviceName: string }
  | { cmd: "pair" }
  | { cmd: "befriend"; handle: string }
  | { cmd: "accept"; userId: string }
  | { cmd: "reject"; userId: string }
  | { cmd: "send"; channel: number; text: string }
  | { cmd: "typing"; channel: number };

/** Worker → page. */
export type Event =
  | { event: "view"; view: ViewState }
  | { event: "messages"; messages: ChatMessage[] }
  | { event: "error"; text: string }
  /**
   * The first session of this page: `millis` from the page load (stored keys), or from the
   * register submit (`cold`: keys made now).
   */
  | { event: "session"; millis: number; cold: boolean; pattern: string };
