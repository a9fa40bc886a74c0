/**
 * The private halves of the key packages one device uploaded, kept as `kp/<ref hex>` in its
 * store until a Welcome uses them (one-time) or their lifetime ends (last-resort ones stay).
 *
 * @module
 */
import type { CiphersuiteImpl, KeyPackage, PrivateKeyPackage, Welcome } from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { fromBase64, hex, sameBytes, toBase64, utf8 } from "./bytes.ts";
import {
  decodeKeyPackageMessage,
  type DeviceIdentity,
  generateKeyPackageFor,
  KEY_PACKAGE_LIFETIME_SECONDS,
  type KeyPackageUpload,
} from "./key_package.ts";
import type { E2EStore } from "./store.ts";

interface StoredKeyPackage {
  data: string;
  init: string;
  hpke: string;
  lastResort: boolean;
  /** Unix ms it was made (absent in state written before this field existed). */
  created?: number;
}

/** One of this device's key packages a Welcome was made for, ready for `joinGroup`. */
export interface OwnKeyPackage {
  /** Its store key: delete it once used unless `lastResort`. */
  key: string;
  lastResort: boolean;
  keyPackage: KeyPackage;
  privateKeys: PrivateKeyPackage;
}

/**
 * Makes `count` one-time key packages (plus a last-resort one when `lastResort` says so, by
 * default when the store holds none), keeps their private keys in `store` and returns what to
 * upload. Forgets expired ones first.
 */
export async function makeKeyPackages(
  identity: DeviceIdentity,
  store: E2EStore,
  count: number,
  options: { lastResort?: boolean },
): Promise<KeyPackageUpload[]> {
  await pruneKeyPackages(store);
  const uploads: KeyPackageUpload[] = [];
  const makeLastResort = options.lastResort ??
    !(await storedKeyPackages(store)).some((k) => k.lastResort);
  for (let i = 0; i < count + (makeLastResort ? 1 : 0); i++) {
    const lastResort = makeLastResort && i === count;
    const generated = await generateKeyPackageFor(identity, { lastResort });
    const stored: StoredKeyPackage = {
      data: generated.upload.data,
      init: toBase64(generated.privatePackage.initPrivateKey),
      hpke: toBase64(generated.privatePackage.hpkePrivateKey),
      lastResort,
      created: Date.now(),
    };
    await store.put(`kp/${hex(generated.ref)}`, utf8(JSON.stringify(stored)));
    uploads.push(generated.upload);
  }
  return uploads;
}

/**
 * Forgets private keys of key packages past their lifetime (plus a day for Welcomes still in
 * flight): the directory no longer hands them out.
 */
async function pruneKeyPackages(store: E2EStore): Promise<void> {
  const limit = Date.now() - (KEY_PACKAGE_LIFETIME_SECONDS + 86_400) * 1000;
  for (const key of await store.keys("kp/")) {
    const bytes = await store.get(key);
    if (!bytes) continue;
    const stored = JSON.parse(new TextDecoder().decode(bytes)) as StoredKeyPackage;
    if (stored.created !== undefined && stored.created < limit) await store.delete(key);
  }
}

/** How many one-time key packages `store` holds private keys for (not yet used). */
export async function unusedKeyPackages(store: E2EStore): Promise<number> {
  return (await storedKeyPackages(store)).filter((k) => !k.lastResort).length;
}

async function storedKeyPackages(store: E2EStore): Promise<StoredKeyPackage[]> {
  const out: StoredKeyPackage[] = [];
  for (const key of await store.keys("kp/")) {
    const bytes = await store.get(key);
    if (bytes) out.push(JSON.parse(new TextDecoder().decode(bytes)));
  }
  return out;
}

/**
 * The key package of this device that `welcome` was made for: `"none"` when the Welcome is for
 * other devices only, `"mismatch"` when the stored package does not hash to the reference the
 * Welcome names.
 */
export async function findOwnKeyPackage(
  store: E2EStore,
  identity: DeviceIdentity,
  welcome: Welcome,
  cs: CiphersuiteImpl,
): Promise<OwnKeyPackage | "none" | "mismatch"> {
  let mine: { key: string; stored: StoredKeyPackage } | undefined;
  for (const secret of welcome.secrets) {
    const key = `kp/${hex(secret.newMember)}`;
    const bytes = await store.get(key);
    if (bytes) {
      mine = { key, stored: JSON.parse(new TextDecoder().decode(bytes)) };
      break;
    }
  }
  if (!mine) return "none";
  const keyPackage: KeyPackage = decodeKeyPackageMessage(fromBase64(mine.stored.data));
  if (!sameBytes(await makeKeyPackageRef(keyPackage, cs.hash), refFromStoreKey(mine.key))) {
    return "mismatch";
  }
  return {
    key: mine.key,
    lastResort: mine.stored.lastResort,
    keyPackage,
    privateKeys: {
      initPrivateKey: fromBase64(mine.stored.init),
      hpkePrivateKey: fromBase64(mine.stored.hpke),
      signaturePrivateKey: identity.privateKey,
    },
  };
}

/** The key package reference a `kp/<hex>` store key names. */
function refFromStoreKey(storeKey: string): Uint8Array {
  const h = storeKey.slice(3);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
