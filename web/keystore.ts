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

const DB_NAME = "commucat";
const STORE = "identity";

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
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact<T>(
  mode: IDBTransactionMode,
  work: (store: IDBObjectStore) => IDBRequest,
): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = work(db.transaction(STORE, mode).objectStore(STORE));
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
