/**
 * `POST /api/e2e/welcome`: hands an MLS Welcome to one device — the device
 * a commit just added to a group — as a `Msg` frame on the group's channel,
 * live or through its offline queue (at-least-once, durable before the
 * answer; a device of another domain gets it as a signed federation relay
 * event, checked by its home server). Other members never see it. The server checks only that the
 * bytes are an `MLSMessage` carrying a Welcome; their content is encrypted
 * to the new member's KeyPackage.
 *
 * @module
 */
import { z } from "zod";
import { decodeBase64, FrameType } from "../proto/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, readJson, validate } from "./http.ts";
import { mayAddressDevice } from "./key_packages.ts";

/** Largest Welcome accepted, bytes: what one routed frame may carry (docs/PROTOCOL.md §4). */
export const MAX_WELCOME_BYTES = 65_487;

/** `MLSMessage` header of a Welcome: version mls10, wire format mls_welcome (3). */
const WELCOME_HEADER = [0, 1, 0, 3];

/** Body of POST /api/e2e/welcome. */
export const welcomeBody = z.object({
  device_id: z.string().min(1).describe("the device the Welcome is for"),
  channel: z.int().min(0).max(0xffffffff).describe(
    "channel of the Msg frame that carries it (the group's channel)",
  ),
  welcome: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "expected standard base64").describe(
    "base64 MLSMessage (mls10, mls_welcome)",
  ),
});

/**
 * True when `userId` has a federated friend on `domain`: a `handle@domain`
 * entry in its friends list with an accepted request between them (the
 * routing rule for remote members, docs/PROTOCOL.md §6).
 */
async function hasFederatedFriendAt(deps: ApiDeps, userId: string, domain: string) {
  for (const entry of await deps.store.getFriends(userId)) {
    const at = entry.userId.lastIndexOf("@");
    if (at <= 0 || entry.userId.slice(at + 1).toLowerCase() !== domain) continue;
    const [out, back] = await Promise.all([
      deps.store.getFriendRequest(userId, entry.userId),
      deps.store.getFriendRequest(entry.userId, userId),
    ]);
    if (out?.status === "accepted" || back?.status === "accepted") return true;
  }
  return false;
}

/** POST /api/e2e/welcome: 202 `{device_id, channel}` once delivered or queued durably. */
export async function sendWelcome(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const body = validate(welcomeBody, await readJson(request));
  let welcome: Uint8Array;
  try {
    welcome = decodeBase64(body.welcome);
  } catch {
    throw new ApiError(400, "welcome: expected standard base64");
  }
  if (welcome.length > MAX_WELCOME_BYTES) {
    throw new ApiError(413, `welcome: too large (max ${MAX_WELCOME_BYTES} bytes)`);
  }
  if (welcome.length <= 4 || WELCOME_HEADER.some((b, i) => welcome[i] !== b)) {
    throw new ApiError(400, "welcome: not an MLSMessage carrying a Welcome");
  }
  const frame = { type: FrameType.Msg, channel: body.channel, sequence: 0, payload: welcome };
  const at = body.device_id.lastIndexOf("@");
  const domain = at > 0 ? body.device_id.slice(at + 1).toLowerCase() : "";
  if (at > 0 && domain !== deps.domain.toLowerCase()) {
    // A device of another domain: a signed relay event; its home server checks the friendship.
    const relay = deps.federation?.relay;
    if (relay === undefined) throw new ApiError(501, "federation is not enabled on this server");
    if (!(await hasFederatedFriendAt(deps, caller.user.userId, domain))) {
      throw new ApiError(404, "device not found");
    }
    try {
      await relay.call(deps.federation, caller.device.deviceId, [body.device_id], frame);
    } catch {
      throw new ApiError(503, "could not queue the welcome for its domain, try again later");
    }
    return json({ device_id: body.device_id, channel: body.channel }, 202);
  }
  if (!(await mayAddressDevice(deps, caller, body.device_id))) {
    throw new ApiError(404, "device not found");
  }
  try {
    await deps.deliverToDevice(body.device_id, frame, caller.user.userId);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "queue_full") throw new ApiError(429, "the device's offline queue is full");
    throw new ApiError(503, "could not deliver the welcome, try again later");
  }
  return json({ device_id: body.device_id, channel: body.channel }, 202);
}
