/**
 * The identity part of the server's handshake: who the device is (lookup),
 * whether it may register (self-registration, pairing), and the certificate
 * and key-change policy (docs/PROTOCOL.md §3): no silent device-key
 * overwrite, no takeover by handle, certificates checked for device, user,
 * key and validity, and a certificate older than the device's latest key
 * change never brings a rotated-away key back. Decisions only: the writes are
 * applied by the handshake once the client has proven its keys.
 *
 * @module
 */
import {
  constantTimeEqual,
  type DeviceCertificate,
  parseCertificate,
  verifyCertificate,
} from "../crypto/mod.ts";
import { checkHandle, findByHandle, handleKey, type HelloPayload } from "../proto/mod.ts";
import type { DeviceRecord, Store, UserRecord } from "../storage/mod.ts";
import { HandshakeError, keyMismatch, pairingRequired } from "./errors.ts";

/** The store calls a handshake makes (a fake implements just these in tests). */
export type HandshakeStore = Pick<
  Store,
  "getDevice" | "getUser" | "getUserByHandle" | "latestDeviceKeyEvent" | "commitHandshake"
>;

/** What the identity policy needs from the server. */
export interface IdentityDeps {
  domain: string;
  store: HandshakeStore;
  /** Device CA public key (Ed25519), which signs device certificates. */
  caPublic: Uint8Array;
  autoApproveDevices: boolean;
  newId: (context: string) => string;
  now: () => number;
}

/** Who the Hello's device is, and what registering or admitting it changes. */
export interface IdentityPlan {
  user: UserRecord;
  /** True when `user` is new (self-registration) and must be created. */
  createUser: boolean;
  /** The known device, or null for a new one. */
  device: DeviceRecord | null;
  /** A new device to insert, a known device's key to change, or nothing. */
  deviceAction: "register" | "rotate" | null;
  /** The certificate the device presented (verified), or null. */
  certificate: DeviceCertificate | null;
}

/**
 * Decides who the Hello's device is. `rawCertificate` is the Hello's
 * certificate with its u64 serial intact (see `exactCertificate`).
 */
export async function resolveIdentity(
  deps: IdentityDeps,
  hello: HelloPayload,
  devicePublic: Uint8Array,
  rawCertificate: unknown,
): Promise<IdentityPlan> {
  const store = deps.store;
  const nowSeconds = Math.floor(deps.now() / 1000);
  const hintId = hello.user?.id ?? hello.user?.user_id ?? null;
  const hintHandle = hello.user?.handle ?? null;
  const device = await storage(() => store.getDevice(hello.device_id));
  const presented = hello.certificate === undefined || hello.certificate === null
    ? null
    : checkCertificate(
      deps,
      rawCertificate ?? hello.certificate,
      hello.device_id,
      devicePublic,
      nowSeconds,
    );

  if (device) {
    if (device.status !== "active") {
      throw new HandshakeError("device_inactive", `device is ${device.status}`);
    }
    const user = await store.getUser(device.userId);
    if (!user) throw new HandshakeError("unknown_user", "device owner not found");
    if (hintId !== null && hintId !== user.userId) {
      throw new HandshakeError("user_mismatch", "user id does not match the device owner");
    }
    // Compared in normal form: `Bob` and `bob` are one handle (ids.ts).
    if (hintHandle !== null && handleKey(hintHandle.trim()) !== handleKey(user.handle)) {
      throw new HandshakeError("user_mismatch", "handle does not match the device owner");
    }
    if (presented && presented.user_id !== user.userId) {
      throw new HandshakeError("certificate", "certificate was issued to another user");
    }
    const keyChanged = !constantTimeEqual(device.publicKey, devicePublic);
    if (keyChanged && !presented) {
      throw keyMismatch();
    }
    if (keyChanged && presented && !(await issuedSinceKeyChange(store, device, presented))) {
      // Certificates are never revoked: one the old key got before a rotation
      // must not turn the device back to that key.
      throw new HandshakeError("certificate", "certificate predates the device's current key");
    }
    return {
      user,
      createUser: false,
      device,
      deviceAction: keyChanged ? "rotate" : null,
      certificate: presented,
    };
  }

  // Unknown device.
  if (presented) {
    const user = await store.getUser(presented.user_id);
    if (!user) throw new HandshakeError("unknown_user", "certificate names an unknown user");
    return {
      user,
      createUser: false,
      device: null,
      deviceAction: "register",
      certificate: presented,
    };
  }
  if (hintId !== null) {
    const user = await store.getUser(hintId);
    if (user) {
      throw pairingRequired("this user exists: pair the new device or present a certificate");
    }
    throw new HandshakeError("unknown_user", "user id not found");
  }
  if (hintHandle === null || hintHandle.trim() === "") {
    throw new HandshakeError("invalid_hello", "a new device must name a user handle to register");
  }
  const raw = hintHandle.trim();
  const handle = registrableHandle(raw);
  const existing = await findHandleHolder(store, raw, handle, deps.domain);
  if (existing) {
    throw pairingRequired("this handle is taken: pair the new device or present a certificate");
  }
  if (!deps.autoApproveDevices) {
    throw pairingRequired("self-registration is disabled on this server");
  }
  const now = new Date(deps.now());
  return {
    user: {
      userId: deps.newId(`user:${handle}`),
      handle,
      displayName: hello.user?.display_name ?? null,
      avatarUrl: hello.user?.avatar_url ?? null,
      domain: deps.domain,
      createdAt: now,
      updatedAt: now,
    },
    createUser: true,
    device: null,
    deviceAction: "register",
    certificate: null,
  };
}

/** The normal form a new user's handle is stored in; a broken rule is an invalid Hello. */
function registrableHandle(raw: string): string {
  // One normalisation for the check, the stored form and the lookup (three before).
  const checked = checkHandle(raw);
  if (checked.problem !== null) {
    throw new HandshakeError("invalid_hello", `invalid hello: user.handle: ${checked.problem}`);
  }
  return checked.key;
}

/**
 * The user holding `raw` in normal form, or as stored before handles were
 * normalised (ids.ts `handleLookupForms`); `key` is `raw`'s normal form.
 */
function findHandleHolder(
  store: HandshakeStore,
  raw: string,
  key: string,
  domain: string,
): Promise<UserRecord | null> {
  return findByHandle(raw, (form) => storage(() => store.getUserByHandle(form, domain)), key);
}

function checkCertificate(
  deps: IdentityDeps,
  raw: unknown,
  deviceId: string,
  devicePublic: Uint8Array,
  nowSeconds: number,
): DeviceCertificate {
  let cert: DeviceCertificate;
  try {
    cert = parseCertificate(raw as object);
  } catch (error) {
    throw new HandshakeError("certificate", `invalid certificate: ${(error as Error).message}`);
  }
  const result = verifyCertificate(cert, {
    caPublic: deps.caPublic,
    now: nowSeconds,
    deviceId,
    publicKey: devicePublic,
  });
  if (!result.ok) {
    throw new HandshakeError("certificate", `certificate rejected: ${result.reason}`);
  }
  return cert;
}

/**
 * True when `cert` was issued after the device's latest key change. A
 * certificate's `issued_at` has whole seconds, a key change milliseconds: the
 * certificate counts as issued at the start of its second, and must be
 * strictly later. So a certificate from the same second as the change (the
 * one the old key got just before a rotation) is refused; the cost is that a
 * certificate issued within a second after a change must be fetched again.
 */
async function issuedSinceKeyChange(
  store: HandshakeStore,
  device: DeviceRecord,
  cert: DeviceCertificate,
): Promise<boolean> {
  const latest = await storage(() => store.latestDeviceKeyEvent(device.deviceId));
  return latest === null || cert.issued_at * 1000 > latest.recordedAt.getTime();
}

/** Runs a store read; its failure is the client's "try again later". */
async function storage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch {
    throw new HandshakeError("storage", "storage unavailable, try again later");
  }
}
