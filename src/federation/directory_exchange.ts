/**
 * The signed request/answer exchange the E2E key-directory endpoints share
 * (`POST /federation/e2e-devices`, `POST /federation/key-package`): a local
 * user's request signed by this server and scoped to the peer, and the peer's
 * answer signed by it and scoped back. What each endpoint asks for and checks
 * stays in `e2e_devices.ts` and `key_packages.ts`.
 *
 * @module
 */
import type { UserRecord } from "../storage/mod.ts";
import type { JsonValue } from "./canonical.ts";
import { type FederationContext, remoteUserId, splitAddress } from "./context.ts";
import { encodeSignedEvent, signEvent } from "./event.ts";
import { nowRfc3339 } from "./friends.ts";
import { FederationProblem, readFederationBody } from "./problem.ts";
import { verifiedEvent } from "./verified_event.ts";

/** A failed exchange as the REST API reports it to the local caller. */
export type ExchangeFailure = { ok: false; status: number; detail: string };

/** An inbound directory request, verified. */
export type DirectoryRequest = {
  /** The asking domain. */
  origin: string;
  /** The request's event id (the answer's `request_id`). */
  eventId: string;
  /** The asking user, `local@origin`. */
  from: string;
  /** The string the request names (`field` of {@link receiveDirectoryRequest}), untrimmed. */
  subject: string;
  /** The whole payload. */
  body: Record<string, JsonValue>;
};

/**
 * Reads and verifies an inbound request of `type` whose `field` is a string
 * and whose `from` is a user of the signing origin; 400 naming `expected`
 * otherwise, 403 for a `from` of another domain.
 */
export async function receiveDirectoryRequest(
  ctx: FederationContext,
  request: Request,
  type: string,
  field: string,
  expected: string,
): Promise<DirectoryRequest> {
  const { origin, eventId, body } = await verifiedEvent(ctx, await readFederationBody(request));
  const subject = body[field];
  if (body.type !== type || typeof subject !== "string") {
    throw new FederationProblem(400, "InvalidPayload", `expected ${expected}`);
  }
  const from = typeof body.from === "string" ? splitAddress(body.from.trim()) : null;
  if (from === null || from.domain !== origin || from.local === "") {
    throw new FederationProblem(403, "NotFriends", "from must be a user of the origin");
  }
  return { origin, eventId, from: `${from.local}@${from.domain}`, subject, body };
}

/** The 200 answer to a directory request of `origin`: `payload` signed by us, scoped to it. */
export function signedAnswer(
  ctx: FederationContext,
  idPrefix: string,
  origin: string,
  payload: Record<string, JsonValue>,
): Response {
  ctx.metrics.inboundProcessed();
  const answer = signEvent({
    event_id: ctx.newId(idPrefix),
    origin: ctx.domain,
    scope: origin,
    created_at: nowRfc3339(ctx),
    payload,
  }, ctx.seed);
  return new Response(encodeSignedEvent(answer), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** What {@link askPeer} sends. */
export type PeerQuestion = {
  /** Prefix of the request's event id. */
  idPrefix: string;
  /** The peer's endpoint path, e.g. `/federation/key-package`. */
  path: string;
  /** The request payload; `from` (the caller on this domain) is added. */
  payload: Record<string, JsonValue>;
  /** Names the request in the log ("device list", "key package"). */
  what: string;
  timeoutMs: number;
};

/** The peer's HTTP answer to {@link askPeer}, not yet read. */
export type PeerReply = { ok: true; eventId: string; status: number; text: string };

/**
 * Signs the question as a request of `caller` and posts it to `domain`'s
 * server. An unknown domain is a 400 and no answer a 502; any HTTP answer is
 * handed back with its body for the caller to judge.
 */
export async function askPeer(
  ctx: FederationContext,
  client: Deno.HttpClient | undefined,
  caller: UserRecord,
  domain: string,
  q: PeerQuestion,
): Promise<PeerReply | ExchangeFailure> {
  const peer = await ctx.peers.get(domain);
  if (peer === null) return { ok: false, status: 400, detail: `unknown domain: ${domain}` };
  const eventId = ctx.newId(q.idPrefix);
  const request = signEvent({
    event_id: eventId,
    origin: ctx.domain,
    scope: domain,
    created_at: nowRfc3339(ctx),
    payload: { ...q.payload, from: remoteUserId(caller.handle, ctx.domain) },
  }, ctx.seed);
  let response: Response;
  try {
    response = await fetch(`${peer.endpoint.replace(/\/+$/, "")}${q.path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: encodeSignedEvent(request),
      signal: AbortSignal.timeout(q.timeoutMs),
      client,
    });
  } catch (error) {
    ctx.log.warn(`federation: ${q.what} request failed`, { domain, error: String(error) });
    return { ok: false, status: 502, detail: `${domain} did not answer` };
  }
  return { ok: true, eventId, status: response.status, text: await response.text() };
}

/** The 502 for a peer that answered `status` instead of 200. */
export function refused(domain: string, status: number): ExchangeFailure {
  return { ok: false, status: 502, detail: `${domain} refused the request (${status})` };
}

/**
 * Verifies `text` as `domain`'s signed answer and reads it with `read`; a
 * bad signature or anything `read` throws is logged and a 502.
 */
export async function readAnswer<T>(
  ctx: FederationContext,
  domain: string,
  text: string,
  what: string,
  read: (body: Record<string, JsonValue>) => T,
): Promise<T | ExchangeFailure> {
  try {
    const { body } = await verifiedEvent(ctx, text, domain);
    return read(body);
  } catch (error) {
    ctx.log.warn(`federation: bad ${what} answer`, { domain, error: String(error) });
    return { ok: false, status: 502, detail: `${domain} sent an invalid answer` };
  }
}
