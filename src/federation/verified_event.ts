/**
 * The one check of an inbound signed federation event: decodes it, requires a
 * known peer (the expected one, for an answer), a valid signature, our domain
 * as scope, a fresh timestamp and an object payload. Used by
 * POST /federation/events and the E2E key-directory requests and answers.
 *
 * @module
 */
import { JsonNumber, type JsonValue } from "./canonical.ts";
import type { FederationContext } from "./context.ts";
import { decodeSignedEvent, EventError, verifySignedEvent } from "./event.ts";
import { checkFreshness } from "./friends.ts";
import { FederationProblem } from "./problem.ts";

/** Reads and verifies a signed event from a known peer (`expectOrigin`, when given) addressed to us. */
export async function verifiedEvent(
  ctx: FederationContext,
  text: string,
  expectOrigin?: string,
) {
  let signed;
  try {
    signed = decodeSignedEvent(text);
  } catch (error) {
    throw new FederationProblem(400, "InvalidRequest", (error as Error).message);
  }
  const origin = signed.event.origin.trim().toLowerCase();
  if (expectOrigin !== undefined && origin !== expectOrigin) {
    throw new FederationProblem(403, "UnknownPeer", "answer from another origin");
  }
  const peer = await ctx.peers.get(origin);
  if (peer === null) throw new FederationProblem(403, "UnknownPeer", "origin not allowed");
  try {
    verifySignedEvent(signed, peer.publicKey);
  } catch (error) {
    if (error instanceof EventError && error.code !== "invalid_request") {
      throw new FederationProblem(403, "InvalidSignature", error.message);
    }
    throw new FederationProblem(400, "InvalidRequest", (error as Error).message);
  }
  if (signed.event.scope.trim().toLowerCase() !== ctx.domain) {
    throw new FederationProblem(403, "InvalidScope", "event is addressed to another domain");
  }
  checkFreshness(ctx, signed.event.created_at);
  const payload = signed.event.payload;
  if (
    payload === null || typeof payload !== "object" || Array.isArray(payload) ||
    payload instanceof JsonNumber
  ) {
    throw new FederationProblem(400, "InvalidPayload", "payload must be an object");
  }
  return { origin, eventId: signed.event.event_id, body: payload as Record<string, JsonValue> };
}
