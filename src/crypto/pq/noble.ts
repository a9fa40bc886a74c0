/**
 * ML-KEM-768 and ML-DSA-65 on @noble/post-quantum (portable JavaScript):
 * the reference the WebCrypto backend is cross-checked against, and the only
 * one that encapsulates deterministically (test vectors).
 *
 * @module
 */

import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
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

/** Expanded secret keys, by the key pair they belong to (expanding costs a keygen). */
const kemSecret = new WeakMap<KemKeyPair, Uint8Array>();
const dsaSecret = new WeakMap<SignatureKeyPair, Uint8Array>();

function kemKeyPairFromSeed(seed: Uint8Array): KemKeyPair {
  expectPqLength(seed, ML_KEM_768.seedLength, "ML-KEM-768 seed");
  const { publicKey, secretKey } = ml_kem768.keygen(seed.slice());
  const keyPair: KemKeyPair = Object.freeze({ seed: seed.slice(), publicKey });
  kemSecret.set(keyPair, secretKey);
  return keyPair;
}

function dsaKeyPairFromSeed(seed: Uint8Array): SignatureKeyPair {
  expectPqLength(seed, ML_DSA_65.seedLength, "ML-DSA-65 seed");
  const { publicKey, secretKey } = ml_dsa65.keygen(seed.slice());
  const keyPair: SignatureKeyPair = Object.freeze({ seed: seed.slice(), publicKey });
  dsaSecret.set(keyPair, secretKey);
  return keyPair;
}

/** The expanded secret key of a key pair (derived now when the pair came from elsewhere). */
function secretOf<K extends { readonly seed: Uint8Array }>(
  cache: WeakMap<K, Uint8Array>,
  keyPair: K,
  derive: (seed: Uint8Array) => K,
): Uint8Array {
  let secret = cache.get(keyPair);
  if (secret === undefined) {
    secret = cache.get(derive(keyPair.seed))!;
    cache.set(keyPair, secret);
  }
  return secret;
}

/** Runs a synchronous computation as a promise: a throw becomes a rejection, as on WebCrypto. */
function settle<T>(compute: () => T): Promise<T> {
  return new Promise((resolve) => resolve(compute()));
}

function randomSeed(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** ML-KEM-768 on noble. */
export const nobleKem: Kem = Object.freeze({
  name: "ML-KEM-768",
  generateKeyPair: () => settle(() => kemKeyPairFromSeed(randomSeed(ML_KEM_768.seedLength))),
  keyPairFromSeed: (seed: Uint8Array) => settle(() => kemKeyPairFromSeed(seed)),
  encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): Promise<Encapsulation> {
    return settle(() => {
      expectPqLength(publicKey, ML_KEM_768.publicKeyLength, "ML-KEM-768 public key");
      if (randomness !== undefined) {
        expectPqLength(randomness, ML_KEM_768.randomnessLength, "ML-KEM-768 randomness");
      }
      let result: { cipherText: Uint8Array; sharedSecret: Uint8Array };
      try {
        result = ml_kem768.encapsulate(publicKey, randomness?.slice());
      } catch {
        throw new PqError("invalid-argument", "ML-KEM-768 public key is malformed");
      }
      return { ciphertext: result.cipherText, sharedSecret: result.sharedSecret };
    });
  },
  decapsulate(keyPair: KemKeyPair, ciphertext: Uint8Array): Promise<Uint8Array> {
    return settle(() => {
      expectPqLength(ciphertext, ML_KEM_768.ciphertextLength, "ML-KEM-768 ciphertext");
      const secret = secretOf(kemSecret, keyPair, kemKeyPairFromSeed);
      try {
        return ml_kem768.decapsulate(ciphertext, secret.slice());
      } catch {
        throw new PqError("decapsulate-failed", "ML-KEM-768 decapsulation failed");
      }
    });
  },
});

/** ML-DSA-65 on noble (empty context, hedged signing). */
export const nobleSigner: Signer = Object.freeze({
  name: "ML-DSA-65",
  generateKeyPair: () => settle(() => dsaKeyPairFromSeed(randomSeed(ML_DSA_65.seedLength))),
  keyPairFromSeed: (seed: Uint8Array) => settle(() => dsaKeyPairFromSeed(seed)),
  sign(keyPair: SignatureKeyPair, message: Uint8Array): Promise<Uint8Array> {
    return settle(() => {
      const secret = secretOf(dsaSecret, keyPair, dsaKeyPairFromSeed);
      return ml_dsa65.sign(message, secret);
    });
  },
  verify(
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean> {
    return settle(() => {
      if (
        !(publicKey instanceof Uint8Array) || publicKey.length !== ML_DSA_65.publicKeyLength ||
        !(signature instanceof Uint8Array) || signature.length !== ML_DSA_65.signatureLength
      ) {
        return false;
      }
      try {
        return ml_dsa65.verify(signature, message, publicKey);
      } catch {
        return false;
      }
    });
  },
});

/**
 * A deterministic ML-DSA-65 signature (no extra entropy), for published test
 * vectors only: sessions sign hedged.
 */
export function signDeterministic(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const keyPair = dsaKeyPairFromSeed(seed);
  return ml_dsa65.sign(message, dsaSecret.get(keyPair)!, { extraEntropy: false });
}
