/**
 * Primitives on the noble libraries: pure TypeScript, portable to any
 * runtime, and the reference the native backend is cross-checked against.
 *
 * @module
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake2b, blake2s } from "@noble/hashes/blake2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { NoiseError } from "./errors.ts";
import {
  chachaNonce,
  checkedDh,
  type Cipher,
  type Dh,
  expectLength,
  type Hash,
  keyBytes,
  type KeyPair,
  TAG_LENGTH,
} from "./primitives.ts";

function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  expectLength(privateKey, 32, "X25519 private key");
  return Object.freeze({
    privateKey: privateKey.slice(),
    publicKey: x25519.getPublicKey(privateKey),
  });
}

/** X25519 from @noble/curves. */
export const nobleX25519: Dh = {
  name: "25519",
  dhLen: 32,
  generateKeyPair(): KeyPair {
    const seed = x25519.utils.randomSecretKey();
    try {
      return keyPairFromPrivate(seed);
    } finally {
      seed.fill(0);
    }
  },
  keyPairFromPrivate,
  dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array {
    expectLength(publicKey, 32, "X25519 public key");
    expectLength(keyPair.privateKey, 32, "X25519 private key");
    return checkedDh(() => x25519.getSharedSecret(keyPair.privateKey, publicKey));
  },
};

const NO_AD = new Uint8Array(0);

/** ChaCha20-Poly1305 (RFC 8439) from @noble/ciphers. */
export const nobleChaChaPoly: Cipher = {
  name: "ChaChaPoly",
  encrypt(key, n, ad, plaintext, keyAt = 0): Uint8Array {
    return chacha20poly1305(keyBytes(key, keyAt), chachaNonce(n), ad.length > 0 ? ad : NO_AD)
      .encrypt(
        plaintext,
      );
  },
  decrypt(key, n, ad, ciphertext, keyAt = 0): Uint8Array {
    if (ciphertext.length < TAG_LENGTH) {
      throw new NoiseError("decrypt-failed", "ciphertext shorter than its tag");
    }
    try {
      return chacha20poly1305(keyBytes(key, keyAt), chachaNonce(n), ad.length > 0 ? ad : NO_AD)
        .decrypt(
          ciphertext,
        );
    } catch {
      throw new NoiseError("decrypt-failed", "authentication failed");
    }
  },
};

type NobleHash = typeof blake2s | typeof blake2b | typeof sha256;

function nobleHash(name: string, fn: NobleHash): Hash {
  return {
    name,
    hashLen: fn.outputLen,
    blockLen: fn.blockLen,
    digest(...parts: Uint8Array[]): Uint8Array {
      const h = fn.create();
      for (const part of parts) h.update(part);
      return h.digest();
    },
    hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
      const h = hmac.create(fn, key);
      for (const part of parts) h.update(part);
      return h.digest();
    },
  };
}

/** BLAKE2s-256 from @noble/hashes. */
export const nobleBlake2s: Hash = nobleHash("BLAKE2s", blake2s);

/** BLAKE2b-512 from @noble/hashes. */
export const nobleBlake2b: Hash = nobleHash("BLAKE2b", blake2b);

/** SHA-256 from @noble/hashes. */
export const nobleSha256: Hash = nobleHash("SHA256", sha256);
