/**
 * Key packages: a device's one-time (or last-resort) MLS invitation keys, published in the
 * server's key directory. The device key is the MLS signature key (Ed25519, suite 83), the
 * BasicCredential's identity is the device id, and the directory upload carries a second Ed25519
 * signature by the same key over {@link keyPackageSignedMessage} (the server checks that one
 * before storing; a fetching client checks both, and that the signer is the device it asked for).
 *
 * @module
 */
import {
  type Credential,
  decodeMlsMessage,
  defaultCapabilities,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type KeyPackage,
  type PrivateKeyPackage,
} from "ts-mls";
import { makeKeyPackageRef, verifyKeyPackage } from "ts-mls/keyPackage.js";
import { E2E_SUITE, e2eSuite } from "./suite.ts";
import { fromBase64, fromUtf8, hex, sameBytes, toBase64, utf8 } from "./bytes.ts";
import { E2EError } from "./errors.ts";

/** A device's signing identity: its id and Ed25519 device key (32-byte seed + public key). */
export interface DeviceIdentity {
  readonly deviceId: string;
  /** The 32-byte Ed25519 seed of the device key. Secret. */
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** One entry of `POST /api/e2e/key-packages` (docs/PROTOCOL.md "End-to-end encryption"). */
export interface KeyPackageUpload {
  /** base64 of the MLSMessage(KeyPackage). */
  data: string;
  /** base64 Ed25519 signature by the device key over {@link keyPackageSignedMessage}. */
  signature: string;
  last_resort: boolean;
}

/** What `GET /api/e2e/key-packages/{device_id}` returns. */
export interface FetchedKeyPackage {
  device_id: string;
  key_package: string;
  signature: string;
  last_resort?: boolean;
}

/** A generated key package: what to upload and what to keep (private keys). */
export interface GeneratedKeyPackage {
  readonly upload: KeyPackageUpload;
  /** KeyPackageRef (RFC 9420 §5.2): how a Welcome names it. */
  readonly ref: Uint8Array;
  readonly publicPackage: KeyPackage;
  readonly privatePackage: PrivateKeyPackage;
  readonly lastResort: boolean;
}

/** Domain of the device key's signature over a key package (shared with the server). */
export const KEY_PACKAGE_SIGNATURE_DOMAIN = "commucat/mls-key-package/v1";

/**
 * What the device key signs for the directory: `DOMAIN ‖ 0x00 ‖ u16be(len(device_id)) ‖
 * device_id ‖ key_package` (binds the package to the device id; no other signature of the
 * device key can pass for one).
 */
export function keyPackageSignedMessage(deviceId: string, keyPackage: Uint8Array): Uint8Array {
  const domain = utf8(KEY_PACKAGE_SIGNATURE_DOMAIN);
  const id = utf8(deviceId);
  const out = new Uint8Array(domain.length + 3 + id.length + keyPackage.length);
  out.set(domain);
  out.set([0, id.length >> 8, id.length & 0xff], domain.length);
  out.set(id, domain.length + 3);
  out.set(keyPackage, domain.length + 3 + id.length);
  return out;
}

/** Key packages live this long (below ts-mls's one-month lifetime cap). */
export const KEY_PACKAGE_LIFETIME_SECONDS = 28 * 24 * 3600;
const LIFETIME_SECONDS = BigInt(KEY_PACKAGE_LIFETIME_SECONDS);

/**
 * The device id a directory address names at the device's home server: `dev@domain` → `dev`
 * (a device of a federated domain), a local id as it is. A credential always carries this bare
 * id (docs/PROTOCOL.md "Device names across domains").
 */
export function bareDeviceId(address: string): string {
  const at = address.indexOf("@");
  return at < 0 ? address : address.slice(0, at);
}

/** The BasicCredential of `deviceId`. */
export function deviceCredential(deviceId: string): Credential {
  return { credentialType: "basic", identity: utf8(deviceId) };
}

/** The device id a credential names, or null when it is not a basic one. */
export function credentialDevice(credential: Credential): string | null {
  if (credential.credentialType !== "basic") return null;
  try {
    return fromUtf8(credential.identity);
  } catch {
    return null;
  }
}

/** A fresh key package of `device`, signed by its device key. */
export async function generateKeyPackageFor(
  device: DeviceIdentity,
  options: { lastResort?: boolean; now?: number } = {},
): Promise<GeneratedKeyPackage> {
  const cs = await e2eSuite();
  const now = BigInt(Math.floor((options.now ?? Date.now()) / 1000));
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    deviceCredential(device.deviceId),
    defaultCapabilities(),
    { notBefore: now - 3600n, notAfter: now + LIFETIME_SECONDS },
    [],
    { signKey: device.privateKey, publicKey: device.publicKey },
    cs,
  );
  const data = encodeMlsMessage({
    keyPackage: publicPackage,
    wireformat: "mls_key_package",
    version: "mls10",
  });
  const signature = await cs.signature.sign(
    device.privateKey,
    keyPackageSignedMessage(device.deviceId, data),
  );
  return {
    upload: {
      data: toBase64(data),
      signature: toBase64(signature),
      last_resort: options.lastResort ?? false,
    },
    ref: await makeKeyPackageRef(publicPackage, cs.hash),
    publicPackage,
    privatePackage,
    lastResort: options.lastResort ?? false,
  };
}

/**
 * Checks a key package fetched from the directory for `deviceId` (the address asked for: a local
 * id, or `dev@domain` for a device of a federated domain), whose device key the directory lists as
 * `devicePublicKey`: the upload signature and the credential name the bare id (`dev`, what the
 * home server checked on upload), the MLS signature, the suite, and the leaf's signature key (=
 * the device key). Anything else is an {@link E2EError} (`wrong_signer` when another key signed it
 * or the credential names another device).
 */
export async function openKeyPackage(
  fetched: FetchedKeyPackage,
  deviceId: string,
  devicePublicKey: Uint8Array,
): Promise<KeyPackage> {
  const cs = await e2eSuite();
  if (fetched.device_id !== deviceId) {
    throw new E2EError(
      "wrong_signer",
      `asked for ${deviceId}'s key package, got ${fetched.device_id}'s`,
    );
  }
  const bare = bareDeviceId(deviceId);
  if (bare === "") {
    throw new E2EError("wrong_signer", `${deviceId} is not a device address`);
  }
  let data: Uint8Array;
  let signature: Uint8Array;
  try {
    data = fromBase64(fetched.key_package);
    signature = fromBase64(fetched.signature);
  } catch {
    throw new E2EError("bad_key_package", "key package or signature is not base64");
  }
  if (
    !(await cs.signature.verify(
      devicePublicKey,
      keyPackageSignedMessage(bare, data),
      signature,
    ))
  ) {
    throw new E2EError(
      "wrong_signer",
      `the key package of ${deviceId} is not signed by its device key`,
    );
  }
  const keyPackage = decodeKeyPackageMessage(data);
  if (keyPackage.cipherSuite !== E2E_SUITE) {
    throw new E2EError(
      "bad_key_package",
      `key package suite ${keyPackage.cipherSuite} is not ${E2E_SUITE}`,
    );
  }
  if (!(await verifyKeyPackage(keyPackage, cs.signature))) {
    throw new E2EError("bad_key_package", "key package signature does not verify");
  }
  const leaf = keyPackage.leafNode;
  if (credentialDevice(leaf.credential) !== bare) {
    throw new E2EError("wrong_signer", `key package credential does not name ${deviceId}`);
  }
  if (!sameBytes(leaf.signaturePublicKey, devicePublicKey)) {
    throw new E2EError(
      "wrong_signer",
      `key package of ${deviceId} is signed by another device's key`,
    );
  }
  return keyPackage;
}

/** The KeyPackage inside an encoded MLSMessage, or `bad_key_package`. */
export function decodeKeyPackageMessage(data: Uint8Array): KeyPackage {
  let decoded;
  try {
    decoded = decodeMlsMessage(data, 0);
  } catch {
    decoded = undefined;
  }
  if (!decoded || decoded[1] !== data.length || decoded[0].wireformat !== "mls_key_package") {
    throw new E2EError("bad_key_package", "not an encoded MLS key package");
  }
  return decoded[0].keyPackage;
}

/** Hex of a KeyPackageRef (store keys). */
export function refHex(ref: Uint8Array): string {
  return hex(ref);
}
