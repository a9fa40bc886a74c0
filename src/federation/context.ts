/**
 * What the federation handlers share: the store, our identity, peers, the
 * outbox, delivery into the router, and the sinks for metrics and the ledger.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Frame } from "../proto/mod.ts";
import type { Store } from "../storage/mod.ts";
import type { FederationOutbox } from "./outbox.ts";
import type { PeerDirectory } from "./peers.ts";

/** Federation counters (upstream metric names, see src/metrics). */
export interface FederationMetrics {
  outboxEnqueued(): void;
  outboxDelivered(): void;
  outboxAttempt(): void;
  inboundProcessed(): void;
  inboundRejected(): void;
}

/** Shared state of the federation handlers. */
export interface FederationContext {
  store: Store;
  /** Our domain, lower-case. */
  domain: string;
  /** Our federation (device CA) Ed25519 seed. */
  seed: Uint8Array;
  peers: PeerDirectory;
  outbox: FederationOutbox;
  /**
   * Delivers a frame to a local device: live, or its offline queue (bounded
   * per recipient and per `senderUser`, a `handle@origin` of the peer;
   * omitted for this server's own notices).
   */
  deliver(deviceId: string, frame: Frame, senderUser?: string): Promise<void>;
  /** Channel of server-originated GroupEvent notices. */
  notifyChannel: number;
  /** Accepted |now − created_at|, ms. */
  freshnessMs: number;
  metrics: FederationMetrics;
  ledger?: { record(metadata: Record<string, unknown>): void | Promise<void> };
  log: Logger;
  newId(context: string): string;
  now(): number;
  /**
   * Budget of key-package takes per remote user (`handle@origin`): a friend
   * on another domain cannot drain a device faster than a local one.
   */
  keyPackageTakes?: {
    check(key: string): { allowed: true } | { allowed: false; retryAfterMs: number };
  };
}

/** Splits `local@domain` at the first `@`; domain lower-cased. Null without one. */
export function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.indexOf("@");
  if (at < 0) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1).trim().toLowerCase() };
}

/** `handle@domain` with the domain lower-cased. */
export function remoteUserId(handle: string, domain: string): string {
  return `${handle}@${domain.toLowerCase()}`;
}

/**
 * True when the local user and the remote user (`handle@domain`) are
 * federated friends: the remote user is in the local user's friends list
 * and a friend request between them (either way) was accepted.
 */
export async function areFederatedFriends(
  store: Store,
  localUserId: string,
  remoteUser: string,
): Promise<boolean> {
  const friends = await store.getFriends(localUserId);
  if (!friends.some((f) => f.userId === remoteUser)) return false;
  const [out, back] = await Promise.all([
    store.getFriendRequest(localUserId, remoteUser),
    store.getFriendRequest(remoteUser, localUserId),
  ]);
  return out?.status === "accepted" || back?.status === "accepted";
}

/** Adds `friend` to `userId`'s friends list (no-op when present). */
export async function addFriendEntry(
  store: Store,
  userId: string,
  friend: string,
  now: Date,
): Promise<void> {
  const list = await store.getFriends(userId);
  if (list.some((f) => f.userId === friend)) return;
  await store.putFriends(userId, [...list, { userId: friend, alias: null }], now);
}
