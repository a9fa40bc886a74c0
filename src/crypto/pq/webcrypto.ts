/**
 * ML-KEM-768 and ML-DSA-65 on the runtime's WebCrypto (native code; Deno
 * 2.9+): `encapsulateBits`/`decapsulateBits`, `sign`/`verify`, keys imported
 * as `raw-seed` (private) and `raw-public`.
 *
 * Imported private keys are cached per key pair object, so a long-lived key
 * (the server's) is expanded once, not on every handshake.
 *
 * @module
 */

import {
  type Encapsulation,
  expectPqLength,
  type Kem,
  type KemKeyPair,
  ML_DSA_65,
  ML_KEM_768,
  PqError,
  type SignatureKeyPair,
  type Signer,
} from "./types.ts";

const KEM_ALGORITHM = { name: "ML-KEM-768" } as const;
const DSA_ALGORITHM = { name: "ML-DSA-65" } as const;

/** The parts of SubtleCrypto's post-quantum surface that lib.dom does not type yet. */
interface PqSubtle {
  importKey(
    format: "raw-seed" | "raw-public",
    keyData: BufferSource,
    algorithm: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<CryptoKey>;
  encapsulateBits(
    algorithm: { name: string },
    key: CryptoKey,
  ): Promise<{ ciphertext: ArrayBuffer; sharedKey: ArrayBuffer }>;
  decapsulateBits(
    algorithm: { name: string },
    key: CryptoKey,
    ciphertext: BufferSource,
  ): Promise<ArrayBuffer>;
  sign(algorithm: { name: string }, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(
    algorithm: { name: string },
    key: CryptoKey,
    signature: BufferSource,
    data: BufferSource,
  ): Promise<boolean>;
}

const subtle = crypto.subtle as unknown as PqSubtle;

/** Private CryptoKeys already imported, by the key pair they belong to. */
const kemPrivate = new WeakMap<KemKeyPair, Promise<CryptoKey>>();
const dsaPrivate = new WeakMap<SignatureKeyPair, Promise<CryptoKey>>();

function bytes(buffer: ArrayBuffer): Uint8Array {
  return new Uint8Array(buffer);
}

/** A copy backed by a plain ArrayBuffer (WebCrypto refuses shared or offset views). */
function owned(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

function importSeed(
  algorithm: { name: string },
  seed: Uint8Array,
  extractable: boolean,
): Promise<CryptoKey> {
  const usages = algorithm === KEM_ALGORITHM ? ["decapsulateBits"] : ["sign"];
  return subtle.importKey("raw-seed", owned(seed), algorithm, extractable, usages);
}

/**
 * The public key of a seed. WebCrypto has no "public of private" call; the
 * JWK export of an extractable import carries it (`pub`). The cached private
 * key is a separate, non-extractable import.
 */
async function publicOfSeed(algorithm: { name: string }, seed: Uint8Array): Promise<Uint8Array> {
  const extractable = await importSeed(algorithm, seed, true);
  const jwk = await crypto.subtle.exportKey("jwk", extractable) as JsonWebKey & { pub?: string };
  if (typeof jwk.pub !== "string") {
    throw new PqError("unsupported", `${algorithm.name}: this runtime cannot export a public key`);
  }
  return base64UrlDecode(jwk.pub);
}

async function kemKeyPairFromSeed(seed: Uint8Array): Promise<KemKeyPair> {
  expectPqLength(seed, ML_KEM_768.seedLength, "ML-KEM-768 seed");
  const publicKey = await publicOfSeed(KEM_ALGORITHM, seed);
  const keyPair: KemKeyPair = Object.freeze({ seed: seed.slice(), publicKey });
  kemPrivate.set(keyPair, importSeed(KEM_ALGORITHM, seed, false));
  return keyPair;
}

async function dsaKeyPairFromSeed(seed: Uint8Array): Promise<SignatureKeyPair> {
  expectPqLength(seed, ML_DSA_65.seedLength, "ML-DSA-65 seed");
  const publicKey = await publicOfSeed(DSA_ALGORITHM, seed);
  const keyPair: SignatureKeyPair = Object.freeze({ seed: seed.slice(), publicKey });
  dsaPrivate.set(keyPair, importSeed(DSA_ALGORITHM, seed, false));
  return keyPair;
}

/** The cached private CryptoKey of a key pair (imported now when the pair came from elsewhere). */
function privateKeyOf<K extends object>(
  cache: WeakMap<K, Promise<CryptoKey>>,
  keyPair: K & { readonly seed: Uint8Array },
  algorithm: { name: string },
  seedLength: number,
): Promise<CryptoKey> {
  let key = cache.get(keyPair);
  if (key === undefined) {
    expectPqLength(keyPair.seed, seedLength, `${algorithm.name} seed`);
    key = importSeed(algorithm, keyPair.seed, false);
    cache.set(keyPair, key);
  }
  return key;
}

function base64UrlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function randomSeed(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** ML-KEM-768 on WebCrypto. */
export const webCryptoKem: Kem = Object.freeze({
  name: "ML-KEM-768",
  generateKeyPair: () => kemKeyPairFromSeed(randomSeed(ML_KEM_768.seedLength)),
  keyPairFromSeed: kemKeyPairFromSeed,
  async encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): Promise<Encapsulation> {
    if (randomness !== undefined) {
      throw new PqError("unsupported", "WebCrypto ML-KEM cannot encapsulate deterministically");
    }
    expectPqLength(publicKey, ML_KEM_768.publicKeyLength, "ML-KEM-768 public key");
    let key: CryptoKey;
    try {
      key = await subtle.importKey("raw-public", owned(publicKey), KEM_ALGORITHM, false, [
        "encapsulateBits",
      ]);
    } catch {
      throw new PqError("invalid-argument", "ML-KEM-768 public key is malformed");
    }
    const { ciphertext, sharedKey } = await subtle.encapsulateBits(KEM_ALGORITHM, key);
    return { ciphertext: bytes(ciphertext), sharedSecret: bytes(sharedKey) };
  },
  async decapsulate(keyPair: KemKeyPair, ciphertext: Uint8Array): Promise<Uint8Array> {
    expectPqLength(ciphertext, ML_KEM_768.ciphertextLength, "ML-KEM-768 ciphertext");
    const privateKey = privateKeyOf(kemPrivate, keyPair, KEM_ALGORITHM, ML_KEM_768.seedLength);
    try {
      return bytes(
        await subtle.decapsulateBits(KEM_ALGORITHM, await privateKey, owned(ciphertext)),
      );
    } catch {
      throw new PqError("decapsulate-failed", "ML-KEM-768 decapsulation failed");
    }
  },
});

/** ML-DSA-65 on WebCrypto (empty context). */
export const webCryptoSigner: Signer = Object.freeze({
  name: "ML-DSA-65",
  generateKeyPair: () => dsaKeyPairFromSeed(randomSeed(ML_DSA_65.seedLength)),
  keyPairFromSeed: dsaKeyPairFromSeed,
  async sign(keyPair: SignatureKeyPair, message: Uint8Array): Promise<Uint8Array> {
    const privateKey = privateKeyOf(dsaPrivate, keyPair, DSA_ALGORITHM, ML_DSA_65.seedLength);
    return bytes(await subtle.sign(DSA_ALGORITHM, await privateKey, owned(message)));
  },
  async verify(
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean> {
    if (
      !(publicKey instanceof Uint8Array) || publicKey.length !== ML_DSA_65.publicKeyLength ||
      !(signature instanceof Uint8Array) || signature.length !== ML_DSA_65.signatureLength
    ) {
      return false;
    }
    try {
      const key = await subtle.importKey("raw-public", owned(publicKey), DSA_ALGORITHM, false, [
        "verify",
      ]);
      return await subtle.verify(DSA_ALGORITHM, key, owned(signature), owned(message));
    } catch {
      return false;
    }
  },
});
