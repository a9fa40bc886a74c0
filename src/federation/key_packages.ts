/**
 * MLS KeyPackages of devices on other domains (docs/PROTOCOL.md "End-to-end
 * encryption", federation). A local user takes one of a remote friend's
 * device's packages through its own server, which asks the device's home
 * server with a signed event on `POST /federation/key-package`:
 *
 * request payload  `{"type":"key_package_request","from":"alice@a.example","device":"bob-1"}`
 * response payload `{"type":"key_package","request_id","device","user","key_package",
 *                    "signature","last_resort","cipher_suite","device_public"}`
 *
 * both as signed events (`./event.ts`), the response signed by the home
 * server and scoped to the asking one. The home server hands a package only
 * to a federated friend of the device's user, consumes one-time packages as
 * for a local take, and refuses a replayed request.
 *
 * @module
 */
import { toHex, verifyDeviceKeyPackage } from "../crypto/mod.ts";
import { encodeBase64 } from "../proto/mod.ts";
import type { UserRecord } from "../storage/mod.ts";
import { JsonNumber } from "./canonical.ts";
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

/** Idempotency scope of inbound key-package requests (a request is answered once). */
export const KEY_PACKAGE_REQUEST_SCOPE = "federation-key-package";

/** A remote device's KeyPackage as the REST API returns it. */
export type RemoteKeyPackage = {
  device_id: string;
  user_id: string;
  key_package: string;
  signature: string;
  last_resort: boolean;
  cipher_suite: number;
  device_public: string;
};

/** Outcome of {@link fetchRemoteKeyPackage}. */
export type RemoteKeyPackageResult =
  | { ok: true; keyPackage: RemoteKeyPackage }
  | { ok: false; status: number; detail: string };

const NONE = "no key package available for this device";

/** POST /federation/key-package: a peer takes one KeyPackage of one of our devices. */
export async function receiveKeyPackageRequest(
  ctx: FederationContext,
  request: Request,
): Promise<Response> {
  const { origin, eventId, from, subject } = await receiveDirectoryRequest(
    ctx,
    request,
    "key_package_request",
    "device",
    "a key_package_request",
  );
  const limit = ctx.keyPackageTakes?.check(from);
  if (limit !== undefined && !limit.allowed) {
    throw new FederationProblem(429, "TooManyRequests", "too many key package requests");
  }
  const fresh = await ctx.store.claimIdempotencyKey(
    `federation:${origin}:${eventId}`,
    KEY_PACKAGE_REQUEST_SCOPE,
    new Date(ctx.now()),
  );
  if (!fresh) throw new FederationProblem(409, "Replay", "this request was answered already");
  const deviceId = subject.trim();
  const device = await ctx.store.getDevice(deviceId);
  // Unknown device, not a friend's, or nothing left: one answer, so nothing can be probed.
  const none = new FederationProblem(404, "NoKeyPackage", NONE);
  if (device === null || device.status !== "active") throw none;
  if (!(await areFederatedFriends(ctx.store, device.userId, from))) {
    throw none;
  }
  const owner = await ctx.store.getUser(device.userId);
  const taken = await ctx.store.consumeKeyPackage(deviceId, new Date(ctx.now()));
  if (owner === null || taken === null) throw none;
  if (!verifyDeviceKeyPackage(device.publicKey, deviceId, taken.data, taken.deviceSignature)) {
    await ctx.store.deleteKeyPackages(deviceId); // signed by a device key rotated away since
    throw none;
  }
  return signedAnswer(ctx, "federation-key-package", origin, {
    type: "key_package",
    request_id: eventId,
    device: deviceId,
    user: remoteUserId(owner.handle, ctx.domain),
    key_package: encodeBase64(taken.data),
    signature: encodeBase64(taken.deviceSignature),
    last_resort: taken.lastResort,
    cipher_suite: taken.cipherSuite,
    device_public: toHex(device.publicKey),
  });
}

/**
 * Takes one KeyPackage of `deviceId` on `domain` for the local `caller`,
 * asking that domain's server; the answer must be its signed event for this
 * request.
 */
export async function fetchRemoteKeyPackage(
  ctx: FederationContext,
  client: Deno.HttpClient | undefined,
  caller: UserRecord,
  deviceId: string,
  domain: string,
  timeoutMs = 10_000,
): Promise<RemoteKeyPackageResult> {
  const asked = await askPeer(ctx, client, caller, domain, {
    idPrefix: "federation-key-package-request",
    path: "/federation/key-package",
    payload: { type: "key_package_request", device: deviceId },
    what: "key package",
    timeoutMs,
  });
  if (!asked.ok) return asked;
  if (asked.status === 404) return { ok: false, status: 404, detail: NONE };
  if (asked.status !== 200) {
    ctx.log.warn("federation: key package request refused", { domain, status: asked.status });
    return refused(domain, asked.status);
  }
  return await readAnswer(ctx, domain, asked.text, "key package", (body) => {
    const str = (key: string) => {
      const value = body[key];
      if (typeof value !== "string") throw new Error(`${key} missing`);
      return value;
    };
    if (
      body.type !== "key_package" || str("request_id") !== asked.eventId ||
      str("device") !== deviceId
    ) {
      throw new Error("not the answer to this request");
    }
    const suite = body.cipher_suite;
    const user = splitAddress(str("user"));
    if (user === null || user.domain !== domain) throw new Error("user of another domain");
    return {
      ok: true,
      keyPackage: {
        device_id: `${deviceId}@${domain}`,
        user_id: str("user"),
        key_package: str("key_package"),
        signature: str("signature"),
        last_resort: body.last_resort === true,
        cipher_suite: Number(suite instanceof JsonNumber ? suite.source : suite),
        device_public: str("device_public"),
      },
    } as const;
  });
}
