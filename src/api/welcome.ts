/**
 * `POST /api/e2e/welcome`: hands an MLS Welcome to one device — the device
 * a commit just added to a group — as a `Msg` frame on the group's channel,
 * live or through its offline queue (at-least-once, durable before the
 * answer). Other members never see it. The server checks only that the
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
  if (!(await mayAddressDevice(deps, caller, body.device_id))) {
    throw new ApiError(404, "device not found");
  }
  try {
    await deps.deliverToDevice(
      body.device_id,
      { type: FrameType.Msg, channel: body.channel, sequence: 0, payload: welcome },
      caller.user.userId,
    );
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "queue_full") throw new ApiError(429, "the device's offline queue is full");
    throw new ApiError(503, "could not deliver the welcome, try again later");
  }
  return json({ device_id: body.device_id, channel: body.channel }, 202);
}
