/**
 * A remote friend's devices with their key fingerprints and KeyPackage
 * stock (docs/PROTOCOL.md "End-to-end encryption", federation): the
 * federated twin of `GET /api/e2e/devices/{user}`, on
 * `POST /federation/e2e-devices` with signed events both ways:
 *
 * request payload  `{"type":"e2e_devices_request","from":"alice@a.example","user":"bob"}`
 * response payload `{"type":"e2e_devices","request_id","user":"bob@b.example","devices":[…]}`
 *
 * Only a federated friend of the user gets an answer; anyone else, and an
 * unknown user, get the same 404.
 *
 * @module
 */
import { deviceKeyFingerprint, fromHex, toHex } from "../crypto/mod.ts";
import { findByHandle } from "../proto/mod.ts";
import type { UserRecord } from "../storage/mod.ts";
import { JsonNumber, type JsonValue } from "./canonical.ts";
import {
  areFederatedFriends,
  type FederationContext,
  remoteUserId,
  splitAddress,
} from "./context.ts";
import { encodeSignedEvent, signEvent } from "./event.ts";
import { nowRfc3339 } from "./friends.ts";
import { verifiedEvent } from "./verified_event.ts";
import { FederationProblem, readFederationBody } from "./problem.ts";

/** Outcome of {@link fetchRemoteDevices}. */
export type RemoteDevicesResult =
  | { ok: true; devices: Record<string, unknown> }
  | { ok: false; status: number; detail: string };

/** Seconds precision RFC 3339, as the REST API writes times. */
function rfc3339(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** POST /federation/e2e-devices: a peer lists one of our users' devices for a friend. */
export async function receiveDevicesRequest(
  ctx: FederationContext,
  request: Request,
): Promise<Response> {
  const { origin, eventId, body } = await verifiedEvent(ctx, await readFederationBody(request));
  if (body.type !== "e2e_devices_request" || typeof body.user !== "string") {
    throw new FederationProblem(400, "InvalidPayload", "expected an e2e_devices_request");
  }
  const from = typeof body.from === "string" ? splitAddress(body.from.trim()) : null;
  if (from === null || from.domain !== origin || from.local === "") {
    throw new FederationProblem(403, "NotFriends", "from must be a user of the origin");
  }
  const none = new FederationProblem(404, "UnknownUser", "user not found");
  const user = await findByHandle(
    body.user.trim(),
    (form) => ctx.store.getUserByHandle(form, ctx.domain),
  );
  if (user === null) throw none;
  if (!(await areFederatedFriends(ctx.store, user.userId, `${from.local}@${from.domain}`))) {
    throw none;
  }
  const active = (await ctx.store.listDevicesForUser(user.userId)).filter((d) =>
    d.status === "active"
  );
  const stock = await ctx.store.keyPackageStock(
    active.map((d) => d.deviceId),
    new Date(ctx.now()),
  );
  const devices: JsonValue[] = active.map((d) => {
    const s = stock.get(d.deviceId) ?? { oneTime: 0, lastResort: false };
    return {
      device_id: d.deviceId,
      public_key: toHex(d.publicKey),
      fingerprint: toHex(deviceKeyFingerprint(d.publicKey)),
      created_at: rfc3339(d.createdAt),
      key_packages: { one_time: s.oneTime, last_resort: s.lastResort },
    };
  });
  ctx.metrics.inboundProcessed();
  const answer = signEvent({
    event_id: ctx.newId("federation-e2e-devices"),
    origin: ctx.domain,
    scope: origin,
    created_at: nowRfc3339(ctx),
    payload: {
      type: "e2e_devices",
      request_id: eventId,
      user: remoteUserId(user.handle, ctx.domain),
      devices,
    },
  }, ctx.seed);
  return new Response(encodeSignedEvent(answer), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/**
 * Lists the devices of `handle` on `domain` for the local `caller`, asking
 * that domain's server. Device ids come back as `device@domain`.
 */
export async function fetchRemoteDevices(
  ctx: FederationContext,
  client: Deno.HttpClient | undefined,
  caller: UserRecord,
  handle: string,
  domain: string,
  timeoutMs = 10_000,
): Promise<RemoteDevicesResult> {
  const peer = await ctx.peers.get(domain);
  if (peer === null) return { ok: false, status: 400, detail: `unknown domain: ${domain}` };
  const eventId = ctx.newId("federation-e2e-devices-request");
  const request = signEvent({
    event_id: eventId,
    origin: ctx.domain,
    scope: domain,
    created_at: nowRfc3339(ctx),
    payload: {
      type: "e2e_devices_request",
      from: remoteUserId(caller.handle, ctx.domain),
      user: handle,
    },
  }, ctx.seed);
  let response: Response;
  try {
    response = await fetch(`${peer.endpoint.replace(/\/+$/, "")}/federation/e2e-devices`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: encodeSignedEvent(request),
      signal: AbortSignal.timeout(timeoutMs),
      client,
    });
  } catch (error) {
    ctx.log.warn("federation: device list request failed", { domain, error: String(error) });
    return { ok: false, status: 502, detail: `${domain} did not answer` };
  }
  const text = await response.text();
  if (response.status === 404) return { ok: false, status: 404, detail: "user not found" };
  if (response.status !== 200) {
    return { ok: false, status: 502, detail: `${domain} refused the request (${response.status})` };
  }
  try {
    const { body } = await verifiedEvent(ctx, text, domain);
    const user = typeof body.user === "string" ? splitAddress(body.user) : null;
    if (body.type !== "e2e_devices" || body.request_id !== eventId || user === null) {
      throw new Error("not the answer to this request");
    }
    if (user.domain !== domain || !Array.isArray(body.devices)) throw new Error("bad answer");
    const devices = body.devices.map((entry) => {
      const d = entry as Record<string, JsonValue>;
      const stock = d.key_packages as Record<string, JsonValue>;
      for (const key of ["device_id", "public_key", "fingerprint", "created_at"]) {
        if (typeof d[key] !== "string") throw new Error(`${key} missing`);
      }
      if (!/^[0-9a-f]{64}$/.test(String(d.public_key))) throw new Error("bad public key");
      return {
        device_id: `${d.device_id}@${domain}`,
        public_key: d.public_key,
        // Recomputed: the fingerprint is the key's, whatever the peer says.
        fingerprint: toHex(deviceKeyFingerprint(fromHex(String(d.public_key), 32))),
        created_at: d.created_at,
        key_packages: {
          one_time: stock?.one_time instanceof JsonNumber
            ? Number(stock.one_time.source)
            : Number(stock?.one_time ?? 0),
          last_resort: stock?.last_resort === true,
        },
      };
    });
    return { ok: true, devices: { user_id: body.user, handle: body.user, devices } };
  } catch (error) {
    ctx.log.warn("federation: bad device list answer", { domain, error: String(error) });
    return { ok: false, status: 502, detail: `${domain} sent an invalid answer` };
  }
}
