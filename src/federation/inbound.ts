/**
 * POST /federation/events (upstream §9.3, plus a freshness window and the
 * friendship check of docs/PROTOCOL.md "Federation").
 *
 * @module
 */
import { fromHex } from "../crypto/mod.ts";
import { RouteError } from "../router/mod.ts";
import { CodecError, decodeFrame, type Frame, isBroadcastFrameType } from "../proto/mod.ts";
import type { JsonValue } from "./canonical.ts";
import { areFederatedFriends, type FederationContext, splitAddress } from "./context.ts";
import { receiveAcceptance } from "./friends.ts";
import { json } from "../http/mod.ts";
import { FederationProblem, readFederationBody } from "./problem.ts";
import { verifiedEvent } from "./verified_event.ts";

/** Idempotency scope of inbound events (upstream's). */
export const INBOX_SCOPE = "federation-inbox";

class FrameTooLarge extends FederationProblem {
  constructor() {
    super(400, "InvalidFrame", `frame payload over ${MAX_RELAYED_PAYLOAD} bytes`);
  }
}

/** Largest relayed payload: one Noise message after re-sequencing (see PROTOCOL.md §4). */
export const MAX_RELAYED_PAYLOAD = 65_487;

/** POST /federation/events. */
export async function receiveEvent(ctx: FederationContext, request: Request): Promise<Response> {
  const { origin, eventId, body } = await verifiedEvent(ctx, await readFederationBody(request));
  if (body.type === "friend_request_accepted") {
    return await receiveAcceptance(ctx, origin, eventId, body);
  }
  const { deviceId, frame, senderUser } = await checkRelay(ctx, origin, body);
  const idempotencyKey = `federation:${origin}:${eventId}`;
  const fresh = await ctx.store.claimIdempotencyKey(
    idempotencyKey,
    INBOX_SCOPE,
    new Date(ctx.now()),
  );
  if (!fresh) return json({ status: "duplicate" }, 200);
  try {
    await ctx.deliver(deviceId, frame, senderUser);
  } catch (error) {
    // Not delivered: the peer's retry must be processed, not answered "duplicate".
    await ctx.store.releaseIdempotencyKey(idempotencyKey, INBOX_SCOPE).catch((release) =>
      // The key stays claimed: the peer's retry is answered "duplicate" and this event is lost.
      ctx.log.warn("federation: could not release the idempotency key", {
        error: String(release),
      })
    );
    if (error instanceof RouteError && error.code === "queue_full") {
      // The recipient's (or this sender's) offline queue is full: the peer retries later.
      throw new FederationProblem(429, "QueueFull", error.message);
    }
    ctx.log.warn("federation: delivery failed", { error: String(error) });
    throw new FederationProblem(500, "DeliveryFailed", "could not deliver the frame");
  }
  ctx.metrics.inboundProcessed();
  return json({ status: "accepted" }, 202);
}

/**
 * A relay payload `{payload: hex frame, target: device[@our domain],
 * sender_user: handle@origin, …}` checked down to a deliverable frame.
 */
async function checkRelay(
  ctx: FederationContext,
  origin: string,
  body: Record<string, JsonValue>,
): Promise<{ deviceId: string; frame: Frame; senderUser: string }> {
  if (typeof body.payload !== "string" || typeof body.target !== "string") {
    throw new FederationProblem(400, "InvalidPayload", "payload and target must be strings");
  }
  const target = body.target.trim();
  const address = splitAddress(target);
  if (address !== null && address.domain !== ctx.domain) {
    throw new FederationProblem(400, "InvalidTarget", "target domain is not this server");
  }
  const deviceId = address?.local ?? target;
  if (deviceId === "") throw new FederationProblem(400, "InvalidTarget", "target device required");
  const device = await ctx.store.getDevice(deviceId);
  if (device === null || device.status !== "active") {
    throw new FederationProblem(404, "UnknownDevice", "target device not found");
  }
  const sender = typeof body.sender_user === "string" ? splitAddress(body.sender_user) : null;
  if (sender === null || sender.domain !== origin || sender.local === "") {
    throw new FederationProblem(403, "NotFriends", "sender_user must be a user of the origin");
  }
  if (!(await areFederatedFriends(ctx.store, device.userId, `${sender.local}@${sender.domain}`))) {
    throw new FederationProblem(403, "NotFriends", "sender is not a friend of the target's user");
  }
  let bytes: Uint8Array;
  try {
    bytes = fromHex(body.payload);
  } catch {
    throw new FederationProblem(400, "InvalidPayload", "payload must be hex");
  }
  let frame: Frame;
  try {
    const decoded = decodeFrame(bytes);
    if (decoded === null) throw new CodecError("UnexpectedEof");
    frame = decoded.frame;
  } catch (error) {
    throw new FederationProblem(400, "InvalidFrame", `invalid frame: ${(error as Error).message}`);
  }
  if (frame.payload.length > MAX_RELAYED_PAYLOAD) {
    throw new FrameTooLarge();
  }
  // A peer may relay what a route member may broadcast.
  if (!isBroadcastFrameType(frame.type)) {
    throw new FederationProblem(400, "InvalidFrame", `frame type ${frame.type} is not relayed`);
  }
  return { deviceId, frame, senderUser: `${sender.local}@${sender.domain}` };
}
