/**
 * Friends (upstream §7): the caller's friends list with their devices, and
 * removal. Friend requests live in ./friend_requests.ts.
 *
 * @module
 */
import { toHex } from "../crypto/mod.ts";
import { findByHandle } from "../proto/mod.ts";
import type { DeviceRecord, FriendEntry, Store, UserRecord } from "../storage/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, pathSegment, readJson, rfc3339 } from "./http.ts";

/** Most entries a friends list may have. */
export const MAX_FRIENDS = 512;

/** A device as friends see it. */
export async function friendDevice(store: Store, device: DeviceRecord) {
  const latest = await store.latestDeviceKeyEvent(device.deviceId);
  const out: Record<string, unknown> = {
    device_id: device.deviceId,
    public_key: toHex(device.publicKey),
    status: device.status,
    created_at: rfc3339(device.createdAt),
  };
  if (latest !== null) out.last_rotated_at = rfc3339(latest.recordedAt);
  return out;
}

/** The public profile of a user. */
export function publicUser(user: UserRecord) {
  return {
    user_id: user.userId,
    handle: user.handle,
    display_name: user.displayName,
    avatar_url: user.avatarUrl,
  };
}

/**
 * The handle to show for a user id: a local user's handle, a remote user's
 * id as is (it is `handle@domain`), or null for an id no longer known.
 */
export async function handleOf(deps: ApiDeps, userId: string): Promise<string | null> {
  const user = await deps.store.getUser(userId);
  if (user !== null) return user.handle;
  return userId.includes("@") ? userId : null;
}

/** Resolves a path `{id}`: a user id first, then a handle of this domain (404 otherwise). */
export async function resolveUser(deps: ApiDeps, id: string): Promise<UserRecord> {
  // Handles compare in normal form (PROTOCOL.md §3): `BOB` finds `bob`.
  const user = (await deps.store.getUser(id)) ??
    (await findByHandle(id, (form) => deps.store.getUserByHandle(form, deps.domain)));
  if (user === null) throw new ApiError(404, "user not found");
  return user;
}

/**
 * A PUT body as a friends list, with upstream's checks and texts: only
 * `user_id` and `alias` keys, `handle` refused, ids trimmed and unique,
 * empty aliases dropped, at most {@link MAX_FRIENDS}.
 */
export function parseFriendsPayload(payload: unknown): FriendEntry[] {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new ApiError(400, "payload must be an object with a friends array");
  }
  const list = (payload as Record<string, unknown>).friends;
  if (!Array.isArray(list)) throw new ApiError(400, "friends must be an array");
  if (list.length > MAX_FRIENDS) throw new ApiError(400, "too many friends");
  const seen = new Set<string>();
  const out: FriendEntry[] = [];
  for (const item of list) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new ApiError(400, "friend entry must be an object");
    }
    const entry = item as Record<string, unknown>;
    if ("handle" in entry) {
      throw new ApiError(400, "friend entry must specify user_id; handle is not supported");
    }
    for (const key of Object.keys(entry)) {
      if (key !== "user_id" && key !== "alias") {
        throw new ApiError(400, `unexpected field in friend entry: ${key}`);
      }
    }
    const userId = typeof entry.user_id === "string" ? entry.user_id.trim() : "";
    if (userId === "") throw new ApiError(400, "friend entry must specify user_id");
    if (entry.alias !== undefined && entry.alias !== null && typeof entry.alias !== "string") {
      throw new ApiError(400, "alias must be a string or null");
    }
    const alias = typeof entry.alias === "string" && entry.alias.trim() !== ""
      ? entry.alias.trim()
      : null;
    if (seen.has(userId)) throw new ApiError(400, `duplicate friend user_id: ${userId}`);
    seen.add(userId);
    out.push({ userId, alias });
  }
  return out;
}

/**
 * True when `friendId` also lists `userId`: only a mutual friend's devices are
 * shown (anyone can put any user id into their own list).
 */
async function isMutual(deps: ApiDeps, userId: string, friendId: string): Promise<boolean> {
  return (await deps.store.getFriends(friendId)).some((e) => e.userId === userId);
}

async function friendsResponse(
  deps: ApiDeps,
  caller: UserRecord,
  entries: FriendEntry[],
): Promise<Response> {
  const devices: Record<string, unknown[]> = {};
  for (const entry of entries) {
    if (!(await isMutual(deps, caller.userId, entry.userId))) {
      devices[entry.userId] = [];
      continue;
    }
    const list = await deps.store.listDevicesForUser(entry.userId);
    devices[entry.userId] = await Promise.all(list.map((d) => friendDevice(deps.store, d)));
  }
  const friends = await Promise.all(entries.map(async (e) => {
    const handle = await handleOf(deps, e.userId);
    return {
      user_id: e.userId,
      ...(handle === null ? {} : { handle }),
      ...(e.alias === null ? {} : { alias: e.alias }),
    };
  }));
  return json({ friends, devices });
}

/** GET /api/friends */
export async function getFriends(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  return friendsResponse(deps, caller.user, await deps.store.getFriends(caller.user.userId));
}

/** PUT /api/friends */
export async function putFriends(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const entries = parseFriendsPayload(await readJson(request));
  const before = await deps.store.getFriends(caller.user.userId);
  await deps.store.putFriends(caller.user.userId, entries, new Date(deps.now()));
  if (before.some((old) => !entries.some((e) => e.userId === old.userId))) {
    await deps.friendshipsEnded?.();
  }
  return friendsResponse(deps, caller.user, entries);
}

/** GET /api/friends/{id}/devices: only for mutual friends (each in the other's list). */
export async function getFriendDevices(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const friend = await resolveUser(deps, pathSegment(request, 3));
  const list = await deps.store.getFriends(caller.user.userId);
  if (
    !list.some((e) => e.userId === friend.userId) ||
    !(await isMutual(deps, caller.user.userId, friend.userId))
  ) {
    throw new ApiError(404, "user is not in your friends list");
  }
  const devices = await deps.store.listDevicesForUser(friend.userId);
  return json({
    friend: friend.userId,
    devices: await Promise.all(devices.map((d) => friendDevice(deps.store, d))),
  });
}

/** DELETE /api/friends/{id}: removes the friend from the caller's list only. */
export async function deleteFriend(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const id = pathSegment(request, 3);
  const list = await deps.store.getFriends(caller.user.userId);
  // Match the raw id first so entries of since-deleted users can be removed too.
  let target = list.find((e) => e.userId === id)?.userId;
  if (target === undefined) {
    const user = await findByHandle(id, (form) => deps.store.getUserByHandle(form, deps.domain));
    target = user === null ? undefined : list.find((e) => e.userId === user.userId)?.userId;
  }
  if (target === undefined) throw new ApiError(404, "user is not in your friends list");
  await deps.store.putFriends(
    caller.user.userId,
    list.filter((e) => e.userId !== target),
    new Date(deps.now()),
  );
  await deps.friendshipsEnded?.();
  return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
}

/** Adds `friendId` to `userId`'s list unless present (accepting a request). */
export async function addFriend(deps: ApiDeps, userId: string, friendId: string): Promise<void> {
  const list = await deps.store.getFriends(userId);
  if (list.some((e) => e.userId === friendId)) return;
  if (list.length >= MAX_FRIENDS) throw new ApiError(409, "too many friends");
  await deps.store.putFriends(
    userId,
    [...list, { userId: friendId, alias: null }],
    new Date(deps.now()),
  );
}
