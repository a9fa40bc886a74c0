/**
 * Federated friend requests (upstream §9.5) and their acceptance (ours).
 *
 * Request (upstream format, POST `/federation/friend-request`):
 * `{"type":"friend_request","request_id","from":"alice@a","to":"bob@b","message","timestamp","signature"}`
 * with `signature = hex(Ed25519(origin key, "request_id|from|to|message|timestamp"))`.
 *
 * Acceptance (POST `/federation/events`, a signed event):
 * payload `{"type":"friend_request_accepted","request_id","from":"bob@b","to":"alice@a"}`.
 * Both sides then hold an accepted request and the other user in the
 * friends list: that is a federated friendship (see `areFederatedFriends`).
 *
 * @module
 */
import { controlFrame, findByHandle, FrameType } from "../proto/mod.ts";
import { fromHex, nativeEd25519, toHex, utf8 } from "../crypto/mod.ts";
import type { FriendRequestRecord, UserRecord } from "../storage/mod.ts";
import { type JsonValue, parseJsonKeepingNumbers } from "./canonical.ts";
import { addFriendEntry, type FederationContext, remoteUserId, splitAddress } from "./context.ts";
import { encodeSignedEvent, signEvent } from "./event.ts";
import { json } from "../http/mod.ts";
import { FederationProblem, readFederationBody } from "./problem.ts";
import { formatRfc3339Nanos, parseRfc3339Nanos, TimestampError } from "./time.ts";

/** Idempotency scope of inbound friend requests. */
export const FRIEND_REQUEST_SCOPE = "federation-friend-request";

/** The upstream friend-request body. */
export interface FriendRequestBody {
  type: "friend_request";
  request_id: string;
  from: string;
  to: string;
  message: string;
  timestamp: string;
  signature: string;
}

/** The string a friend request signature covers (parts trimmed, missing message = ""). */
export function friendRequestSigningString(b: Omit<FriendRequestBody, "type" | "signature">) {
  return [b.request_id, b.from, b.to, b.message, b.timestamp].map((p) => p.trim()).join("|");
}

/** Signs (or re-signs, with a new timestamp) a friend request body. */
export function signFriendRequest(
  b: Omit<FriendRequestBody, "type" | "signature">,
  seed: Uint8Array,
): FriendRequestBody {
  const signature = toHex(nativeEd25519.sign(utf8(friendRequestSigningString(b)), seed));
  return { type: "friend_request", ...b, signature };
}

/** Current time as the RFC 3339 text we sign. */
export function nowRfc3339(ctx: { now(): number }): string {
  return formatRfc3339Nanos(BigInt(ctx.now()) * 1_000_000n);
}

/** Outcome the REST API turns into a response. */
export type FederationResult =
  | { ok: true; request: FriendRequestRecord }
  | { ok: false; status: number; detail: string };

/** Sends a friend request from a local user to `handle@domain` (through the outbox). */
export async function sendFederatedFriendRequest(
  ctx: FederationContext,
  caller: UserRecord,
  handle: string,
  domain: string,
  message: string | null,
): Promise<FederationResult> {
  const peer = await ctx.peers.get(domain);
  if (peer === null) return { ok: false, status: 400, detail: `unknown domain: ${domain}` };
  if (handle.trim() === "") return { ok: false, status: 400, detail: "handle required" };
  const to = remoteUserId(handle.trim(), peer.domain);
  const existing = await ctx.store.getFriendRequest(caller.userId, to);
  if (existing?.status === "pending") {
    return { ok: false, status: 409, detail: "friend request already exists" };
  }
  const now = new Date(ctx.now());
  const stored = await ctx.store.upsertFriendRequest({
    id: ctx.newId("fed-friend-req"),
    fromUserId: caller.userId,
    toUserId: to,
    status: "pending",
    message,
    createdAt: now,
    updatedAt: now,
  });
  const body = signFriendRequest({
    request_id: stored.id,
    from: remoteUserId(caller.handle, ctx.domain),
    to,
    message: message ?? "",
    timestamp: nowRfc3339(ctx),
  }, ctx.seed);
  await ctx.outbox.enqueue(peer, JSON.stringify(body), stored.id);
  ctx.metrics.outboxEnqueued();
  await ctx.ledger?.record({
    scope: "federation",
    action: "friend_request_sent",
    request_id: stored.id,
    user: caller.userId,
    to,
  });
  return { ok: true, request: stored };
}

/** Accepts a pending request from `remoteUser` (`handle@domain`) and tells its server. */
export async function acceptFederatedFriendRequest(
  ctx: FederationContext,
  caller: UserRecord,
  remoteUser: string,
): Promise<FederationResult> {
  const address = splitAddress(remoteUser);
  if (address === null) return { ok: false, status: 400, detail: "not a remote user" };
  const from = remoteUserId(address.local, address.domain);
  const pending = await ctx.store.getFriendRequest(from, caller.userId);
  if (pending === null) return { ok: false, status: 404, detail: "friend request not found" };
  if (pending.status !== "pending") {
    return { ok: false, status: 400, detail: "request is not pending" };
  }
  const peer = await ctx.peers.get(address.domain);
  if (peer === null) return { ok: false, status: 400, detail: `unknown domain: ${address.domain}` };
  const now = new Date(ctx.now());
  const eventId = ctx.newId(`federation-friend-accept:${pending.id}`);
  const signed = signEvent({
    event_id: eventId,
    origin: ctx.domain,
    created_at: nowRfc3339(ctx),
    scope: peer.domain,
    payload: {
      type: "friend_request_accepted",
      request_id: pending.id,
      from: remoteUserId(caller.handle, ctx.domain),
      to: from,
    },
  }, ctx.seed);
  // Durable first: once queued, the acceptance reaches the requester eventually.
  await ctx.outbox.enqueue(peer, encodeSignedEvent(signed), eventId);
  ctx.metrics.outboxEnqueued();
  await addFriendEntry(ctx.store, caller.userId, from, now);
  await ctx.store.setFriendRequestStatus(pending.id, "accepted", now);
  await ctx.ledger?.record({
    scope: "federation",
    action: "friend_request_accepted",
    request_id: pending.id,
    user: caller.userId,
    from,
  });
  return { ok: true, request: (await ctx.store.getFriendRequestById(pending.id)) ?? pending };
}

function field(body: Record<string, JsonValue>, name: string, required = true): string {
  const v = body[name];
  if (v === undefined || v === null) {
    if (!required) return "";
    throw new FederationProblem(400, "InvalidPayload", `missing field: ${name}`);
  }
  if (typeof v !== "string") {
    throw new FederationProblem(400, "InvalidPayload", `${name} must be a string`);
  }
  return v;
}

/** Throws unless `createdAt` is within the freshness window. */
export function checkFreshness(ctx: FederationContext, createdAt: string): void {
  let nanos: bigint;
  try {
    nanos = parseRfc3339Nanos(createdAt.trim());
  } catch (error) {
    if (error instanceof TimestampError) {
      throw new FederationProblem(400, "InvalidRequest", error.message);
    }
    throw error;
  }
  const skewMs = Number(nanos / 1_000_000n) - ctx.now();
  if (Math.abs(skewMs) > ctx.freshnessMs) {
    throw new FederationProblem(
      403,
      "StaleEvent",
      `created_at is ${skewMs < 0 ? "older" : "newer"} than the ±${
        ctx.freshnessMs / 1000
      } s freshness window`,
    );
  }
}

/** POST /federation/friend-request. */
export async function receiveFriendRequest(
  ctx: FederationContext,
  request: Request,
): Promise<Response> {
  const text = await readFederationBody(request);
  let value: JsonValue;
  try {
    value = parseJsonKeepingNumbers(text);
  } catch {
    throw new FederationProblem(400, "InvalidRequest", "invalid JSON payload");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FederationProblem(400, "InvalidRequest", "body must be a JSON object");
  }
  const body = value as Record<string, JsonValue>;
  if (body.type !== "friend_request") {
    throw new FederationProblem(400, "InvalidPayload", 'type must be "friend_request"');
  }
  const b = {
    request_id: field(body, "request_id"),
    from: field(body, "from"),
    to: field(body, "to"),
    message: field(body, "message", false),
    timestamp: field(body, "timestamp"),
  };
  const signatureHex = field(body, "signature");
  const from = splitAddress(b.from.trim());
  if (from === null || from.local === "" || from.domain === "") {
    throw new FederationProblem(400, "InvalidPayload", "from must be handle@domain");
  }
  const peer = await ctx.peers.get(from.domain);
  if (peer === null) throw new FederationProblem(403, "UnknownPeer", "origin not allowed");
  let signature: Uint8Array;
  try {
    signature = fromHex(signatureHex.trim(), 64);
  } catch {
    throw new FederationProblem(403, "InvalidSignature", "invalid signature");
  }
  if (!nativeEd25519.verify(signature, utf8(friendRequestSigningString(b)), peer.publicKey)) {
    throw new FederationProblem(403, "InvalidSignature", "invalid signature");
  }
  checkFreshness(ctx, b.timestamp);
  const to = splitAddress(b.to.trim());
  if (to === null || to.domain !== ctx.domain || to.local === "") {
    throw new FederationProblem(400, "InvalidTarget", "target domain is not this server");
  }
  const target = await findByHandle(
    to.local,
    (form) => ctx.store.getUserByHandle(form, ctx.domain),
  );
  if (target === null) throw new FederationProblem(404, "UnknownUser", "target user not found");
  const requestId = b.request_id.trim();
  const requester = remoteUserId(from.local, from.domain);
  // The replay key names the signed timestamp: a request re-sent later (after
  // a rejection) is signed anew and gets through; a replayed body does not.
  const fresh = await ctx.store.claimIdempotencyKey(
    `federation:${from.domain}:${requestId}:${b.timestamp.trim()}`,
    FRIEND_REQUEST_SCOPE,
    new Date(ctx.now()),
  );
  const existing = await ctx.store.getFriendRequest(requester, target.userId);
  if (!fresh || (existing?.id === requestId && existing.status === "pending")) {
    return json({ request_id: requestId, status: "duplicate" }, 200);
  }
  const now = new Date(ctx.now());
  const stored = await ctx.store.upsertFriendRequest({
    id: requestId,
    fromUserId: requester,
    toUserId: target.userId,
    status: "pending",
    message: b.message === "" ? null : b.message,
    createdAt: now,
    updatedAt: now,
  });
  await notifyUser(ctx, target.userId, (device) => ({
    type: "friend_request",
    request_id: stored.id,
    from: requester,
    user_id: target.userId,
    federated: true,
    timestamp: b.timestamp,
    handle: target.handle,
    ...(target.displayName ? { display_name: target.displayName } : {}),
    ...(target.avatarUrl ? { avatar_url: target.avatarUrl } : {}),
    ...(b.message !== "" ? { message: b.message } : {}),
    target_device: device,
  }));
  ctx.metrics.inboundProcessed();
  await ctx.ledger?.record({
    scope: "federation",
    action: "friend_request_received",
    request_id: stored.id,
    from: requester,
    user: target.userId,
  });
  return json({ request_id: stored.id, status: "accepted" }, 200);
}

/** Handles an acceptance event (already verified, fresh, addressed to us). */
export async function receiveAcceptance(
  ctx: FederationContext,
  origin: string,
  eventId: string,
  payload: Record<string, JsonValue>,
): Promise<Response> {
  const requestId = field(payload, "request_id");
  const accepter = splitAddress(field(payload, "from"));
  const requester = splitAddress(field(payload, "to"));
  if (accepter === null || accepter.domain !== origin) {
    throw new FederationProblem(403, "InvalidPayload", "from must be a user of the origin domain");
  }
  if (requester === null || requester.domain !== ctx.domain) {
    throw new FederationProblem(400, "InvalidTarget", "target domain is not this server");
  }
  const accepterId = remoteUserId(accepter.local, accepter.domain);
  const row = await ctx.store.getFriendRequestById(requestId);
  const user = row ? await ctx.store.getUser(row.fromUserId) : null;
  if (
    row === null || user === null || row.toUserId !== accepterId || user.handle !== requester.local
  ) {
    throw new FederationProblem(404, "UnknownRequest", "friend request not found");
  }
  const fresh = await ctx.store.claimIdempotencyKey(
    `federation:${origin}:${eventId}`,
    "federation-inbox",
    new Date(ctx.now()),
  );
  if (!fresh || row.status === "accepted") return json({ status: "duplicate" }, 200);
  const now = new Date(ctx.now());
  await addFriendEntry(ctx.store, user.userId, accepterId, now);
  await ctx.store.setFriendRequestStatus(row.id, "accepted", now);
  await notifyUser(ctx, user.userId, (device) => ({
    type: "friend_request_accepted",
    request_id: row.id,
    from: accepterId,
    user_id: user.userId,
    federated: true,
    target_device: device,
  }));
  ctx.metrics.inboundProcessed();
  await ctx.ledger?.record({
    scope: "federation",
    action: "friend_request_accepted_remote",
    request_id: row.id,
    from: accepterId,
    user: user.userId,
  });
  return json({ status: "accepted" }, 202);
}

/** A GroupEvent to every active device of a local user (live or queued). */
async function notifyUser(
  ctx: FederationContext,
  userId: string,
  body: (deviceId: string) => Record<string, unknown>,
): Promise<void> {
  for (const device of await ctx.store.listDevicesForUser(userId)) {
    if (device.status !== "active") continue;
    const frame = controlFrame(FrameType.GroupEvent, ctx.notifyChannel, 0, body(device.deviceId));
    await ctx.deliver(device.deviceId, frame).catch((e) =>
      ctx.log.warn("federation: notice not delivered", { error: String(e) })
    );
  }
}
