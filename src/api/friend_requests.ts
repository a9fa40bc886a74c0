/**
 * Friend requests (upstream §7): send, list, accept, reject. Accepting adds
 * each user to the other's friends list, which is what lets their devices
 * reach each other (see FriendsPolicy in src/router/access.ts).
 *
 * @module
 */
import { z } from "zod";
import type { FriendRequestRecord, UserRecord } from "../storage/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps, ApiFederationResult } from "./deps.ts";
import { addFriend, handleOf, publicUser, resolveUser } from "./friends.ts";
import { ApiError, json, pathSegment, readJson, rfc3339, validate } from "./http.ts";

/** Body of POST /api/friends/requests/{id} (validated here, documented in /openapi.json). */
export const sendBody = z.object({ message: z.string().max(1024).nullish() }).optional();

/** Most outgoing friend requests a user may have pending at once (anti-spam). */
export const MAX_PENDING_FRIEND_REQUESTS = 64;

/** A friend request as the API shows it. */
export function friendRequestJson(r: FriendRequestRecord) {
  return {
    id: r.id,
    from_user_id: r.fromUserId,
    to_user_id: r.toUserId,
    status: r.status,
    message: r.message,
    created_at: rfc3339(r.createdAt),
    updated_at: rfc3339(r.updatedAt),
  };
}

/** GET /api/friends/requests: pending incoming, all outgoing. */
export async function listFriendRequests(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const [incoming, outgoing] = await Promise.all([
    deps.store.listIncomingFriendRequests(caller.user.userId),
    deps.store.listOutgoingFriendRequests(caller.user.userId),
  ]);
  // Handles, so that a person sees who asked (and whom they asked), not ids.
  const withHandles =
    (side: "from_handle" | "to_handle", id: (r: FriendRequestRecord) => string) =>
    (list: FriendRequestRecord[]) =>
      Promise.all(list.map(async (r) => {
        const handle = await handleOf(deps, id(r));
        return { ...friendRequestJson(r), ...(handle === null ? {} : { [side]: handle }) };
      }));
  return json({
    incoming: await withHandles("from_handle", (r) => r.fromUserId)(incoming),
    outgoing: await withHandles("to_handle", (r) => r.toUserId)(outgoing),
  });
}

/** POST /api/friends/requests/{id}: `{id}` is a user id, a handle, or `handle@domain`. */
export async function sendFriendRequest(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const outgoing = await deps.store.listOutgoingFriendRequests(caller.user.userId);
  if (outgoing.filter((r) => r.status === "pending").length >= MAX_PENDING_FRIEND_REQUESTS) {
    throw new ApiError(429, "too many pending friend requests");
  }
  let id = pathSegment(request, 4);
  const at = id.lastIndexOf("@");
  if (at >= 0) {
    const domain = id.slice(at + 1).trim().toLowerCase();
    if (domain !== "" && domain !== deps.domain.toLowerCase()) {
      if (!deps.federation) throw new ApiError(501, "federation not available");
      const body = validate(sendBody, await readJson(request));
      const sent = federated(
        await deps.federation.sendFriendRequest(
          caller.user,
          id.slice(0, at).trim(),
          domain,
          body?.message ?? null,
        ),
      );
      return json({ request: friendRequestJson(sent), status: "queued" }, 202);
    }
    id = id.slice(0, at);
  }
  const body = validate(sendBody, await readJson(request));
  const target = await resolveUser(deps, id);
  if (target.userId === caller.user.userId) {
    throw new ApiError(400, "cannot send a friend request to yourself");
  }
  const existing = await deps.store.getFriendRequest(caller.user.userId, target.userId);
  if (existing?.status === "pending") throw new ApiError(409, "friend request already exists");
  const now = new Date(deps.now());
  const stored = await deps.store.upsertFriendRequest({
    id: deps.newId("friend-request"),
    fromUserId: caller.user.userId,
    toUserId: target.userId,
    status: "pending",
    message: body?.message ?? null,
    createdAt: now,
    updatedAt: now,
  });
  return json({ request: friendRequestJson(stored), to_user: publicUser(target) }, 201);
}

/** POST /api/friends/requests/{id}/accept|reject: `{id}` is the requesting user. */
export async function answerFriendRequest(
  deps: ApiDeps,
  request: Request,
  decision: "accepted" | "rejected",
): Promise<Response> {
  const caller = await authenticate(deps, request);
  const requester = pathSegment(request, 4);
  const at = requester.indexOf("@");
  if (at > 0 && requester.slice(at + 1).toLowerCase() !== deps.domain.toLowerCase()) {
    return await answerFederated(deps, caller.user, requester, decision);
  }
  const from = await resolveUser(deps, requester);
  const pending = await deps.store.getFriendRequest(from.userId, caller.user.userId);
  if (pending === null) throw new ApiError(404, "friend request not found");
  if (pending.status !== "pending") throw new ApiError(400, "request is not pending");
  if (decision === "accepted") {
    await addFriend(deps, caller.user.userId, from.userId);
    await addFriend(deps, from.userId, caller.user.userId);
  }
  await deps.store.setFriendRequestStatus(pending.id, decision, new Date(deps.now()));
  const updated = (await deps.store.getFriendRequestById(pending.id)) ?? pending;
  return json({ request: friendRequestJson(updated), from_user: publicUser(from) });
}

/** The request of a federation result, or its error as an ApiError. */
function federated(result: ApiFederationResult): FriendRequestRecord {
  if (!result.ok) throw new ApiError(result.status, result.detail);
  return result.request;
}

/** Accept/reject of a request from `handle@other.domain`; a rejection is not sent back. */
async function answerFederated(
  deps: ApiDeps,
  caller: UserRecord,
  requester: string,
  decision: "accepted" | "rejected",
): Promise<Response> {
  const at = requester.indexOf("@");
  const remote = `${requester.slice(0, at)}@${requester.slice(at + 1).toLowerCase()}`;
  if (decision === "accepted") {
    if (!deps.federation) throw new ApiError(501, "federation not available");
    const accepted = federated(await deps.federation.acceptFriendRequest(caller, remote));
    return json({ request: friendRequestJson(accepted), from_user: { user_id: remote } });
  }
  const pending = await deps.store.getFriendRequest(remote, caller.userId);
  if (pending === null) throw new ApiError(404, "friend request not found");
  if (pending.status !== "pending") throw new ApiError(400, "request is not pending");
  await deps.store.setFriendRequestStatus(pending.id, "rejected", new Date(deps.now()));
  const updated = (await deps.store.getFriendRequestById(pending.id)) ?? pending;
  return json({ request: friendRequestJson(updated), from_user: { user_id: remote } });
}
