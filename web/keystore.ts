/**
 * The device's identity in IndexedDB. The 32-byte device key must stay raw
 * bytes (the handshake proof and the Noise static key are computed from it,
 * which WebCrypto's opaque keys cannot do), so it is stored sealed with an
 * AES-GCM key that WebCrypto generated as non-extractable: the sealed bytes
 * are useless outside this origin's IndexedDB, and no code can export the
 * wrapping key. Nothing here is ever sent to the server.
 *
 * @module
 */

import type { E2EStore } from "../src/e2e/store.ts";

const DB_NAME = "commucat";
const STORE = "identity";
/** End-to-end state (src/e2e/): MLS group states, key-package private keys, pinned device keys. */
const E2E_STORE = "e2e";

/** A registered device, as kept between visits. */
export interface Identity {
  deviceId: string;
  deviceName: string;
  handle: string;
  /** 32-byte Ed25519 seed (also the X25519 Noise static private key). */
  privateKey: Uint8Array;
  /** Device certificate JSON, when the server issued one (pairing). */
  certificate?: string;
}

interface Sealed {
  deviceId: string;
  deviceName: string;
  handle: string;
  certificate?: string;
  iv: Uint8Array<ArrayBuffer>;
  sealed: ArrayBuffer;
  wrapKey: CryptoKey;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 2);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
      if (!db.objectStoreNames.contains(E2E_STORE)) db.createObjectStore(E2E_STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact<T>(
  mode: IDBTransactionMode,
  work: (store: IDBObjectStore) => IDBRequest,
  storeName = STORE,
): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = work(db.transaction(storeName, mode).objectStore(storeName));
      request.onsuccess = () => resolve(request.result as T);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

/** Seals and stores `identity` (replacing any earlier one). */
export async function saveIdentity(identity: Identity): Promise<void> {
  const wrapKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    wrapKey,
    new Uint8Array(identity.privateKey),
  );
  const record: Sealed = {
    deviceId: identity.deviceId,
    deviceName: identity.deviceName,
    handle: identity.handle,
    certificate: identity.certificate,
    iv,
    sealed,
    wrapKey,
  };
  await transact("readwrite", (store) => store.put(record, "device"));
}

/** The stored identity, or null on a first visit. */
export async function loadIdentity(): Promise<Identity | null> {
  const record = await transact<Sealed | undefined>("readonly", (store) => store.get("device"));
  if (!record) return null;
  const privateKey = new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: record.iv }, record.wrapKey, record.sealed),
  );
  return {
    deviceId: record.deviceId,
    deviceName: record.deviceName,
    handle: record.handle,
    certificate: record.certificate,
    privateKey,
  };
}

interface SealedValue {
  iv: Uint8Array<ArrayBuffer>;
  sealed: ArrayBuffer;
}

/**
 * The worker's end-to-end state in IndexedDB. Every value is sealed with AES-GCM under a
 * non-extractable key kept in the same store (as the device key is): page script of this origin
 * can see that entries exist, never their contents.
 */
export class IndexedDbE2EStore implements E2EStore {
  #key: Promise<CryptoKey> | null = null;

  #wrapKey(): Promise<CryptoKey> {
    this.#key ??= (async () => {
      const existing = await transact<CryptoKey | undefined>(
        "readonly",
        (store) => store.get("\u0000wrap"),
        E2E_STORE,
      );
      if (existing) return existing;
      const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
        "encrypt",
        "decrypt",
      ]);
      await transact("readwrite", (store) => store.put(key, "\u0000wrap"), E2E_STORE);
      return key;
    })();
    return this.#key;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const record = await transact<SealedValue | undefined>(
      "readonly",
      (store) => store.get(key),
      E2E_STORE,
    );
    if (!record) return undefined;
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: record.iv },
        await this.#wrapKey(),
        record.sealed,
      ),
    );
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv },
      await this.#wrapKey(),
      new Uint8Array(value),
    );
    const record: SealedValue = { iv, sealed };
    await transact("readwrite", (store) => store.put(record, key), E2E_STORE);
  }

  async delete(key: string): Promise<void> {
    await transact("readwrite", (store) => store.delete(key), E2E_STORE);
  }

  async keys(prefix: string): Promise<string[]> {
    const all = await transact<IDBValidKey[]>("readonly", (store) => store.getAllKeys(), E2E_STORE);
    return all.map(String).filter((k) => k.startsWith(prefix) && !k.startsWith("\u0000"));
  }
}
