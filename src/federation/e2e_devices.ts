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
import { FederationProblem } from "./problem.ts";
import {
  askPeer,
  readAnswer,
  receiveDirectoryRequest,
  refused,
  signedAnswer,
} from "./directory_exchange.ts";

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
  const { origin, eventId, from, subject } = await receiveDirectoryRequest(
    ctx,
    request,
    "e2e_devices_request",
    "user",
    "an e2e_devices_request",
  );
  const none = new FederationProblem(404, "UnknownUser", "user not found");
  const user = await findByHandle(
    subject.trim(),
    (form) => ctx.store.getUserByHandle(form, ctx.domain),
  );
  if (user === null) throw none;
  if (!(await areFederatedFriends(ctx.store, user.userId, from))) {
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
  return signedAnswer(ctx, "federation-e2e-devices", origin, {
    type: "e2e_devices",
    request_id: eventId,
    user: remoteUserId(user.handle, ctx.domain),
    devices,
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
  const asked = await askPeer(ctx, client, caller, domain, {
    idPrefix: "federation-e2e-devices-request",
    path: "/federation/e2e-devices",
    payload: { type: "e2e_devices_request", user: handle },
    what: "device list",
    timeoutMs,
  });
  if (!asked.ok) return asked;
  if (asked.status === 404) return { ok: false, status: 404, detail: "user not found" };
  if (asked.status !== 200) return refused(domain, asked.status);
  return await readAnswer(ctx, domain, asked.text, "device list", (body) => {
    const user = typeof body.user === "string" ? splitAddress(body.user) : null;
    if (body.type !== "e2e_devices" || body.request_id !== asked.eventId || user === null) {
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
    return { ok: true, devices: { user_id: body.user, handle: body.user, devices } } as const;
  });
}
