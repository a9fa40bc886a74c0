/**
 * Primitives on `node:crypto` (OpenSSL/Rust in Deno): the default backend,
 * chosen for speed on the transport hot path.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { fromHex } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import { hkdfFromHmac, hmacFromDigest } from "./hmac.ts";
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
import { blake2sWasm, hkdfBlake2sWasm, hmacBlake2sWasm, WASM_HASH_LIMIT } from "./wasm_blake2s.ts";
import { wasmChaChaPoly } from "./wasm_chacha_poly.ts";

/** DER prefix that turns a raw X25519 private key into PKCS#8. */
const PKCS8_X25519_PREFIX = fromHex("302e020100300506032b656e04220420");
/** DER prefix that turns a raw X25519 public key into SPKI. */
const SPKI_X25519_PREFIX = fromHex("302a300506032b656e032100");

/** A plain Uint8Array view of a Buffer's bytes (no copy). */
function plain(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function der(prefix: Uint8Array, raw: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + raw.length);
  out.set(prefix);
  out.set(raw, prefix.length);
  return out;
}

/** The 32 raw key bytes of a DER X25519 key with the expected `prefix` (no copy). */
function rawKey(der: Uint8Array, prefix: Uint8Array): Uint8Array {
  if (der.length !== prefix.length + 32 || prefix.some((b, i) => der[i] !== b)) {
    throw new NoiseError("invalid-argument", "unexpected DER encoding of an X25519 key");
  }
  return der.subarray(prefix.length);
}

/** The SPKI encoding of a peer's public key for {@link nativeX25519}'s DH, rewritten per call. */
const peerSpki = der(SPKI_X25519_PREFIX, new Uint8Array(32));

/** The peer key of the last DH, and its KeyObject (see {@link peerKeyObject}). */
const lastPeer = new Uint8Array(32);
let lastPeerKey: KeyObject | null = null;

/**
 * The KeyObject of a peer's public key. A handshake's DHs come in pairs on
 * one peer key (XK responder: es and ee both on the initiator's ephemeral;
 * initiator: ee and se on the responder's): the last key is kept, so the
 * second of a pair skips an import (~8 µs). Public data only.
 */
function peerKeyObject(publicKey: Uint8Array): KeyObject {
  if (lastPeerKey !== null) {
    let same = true;
    for (let i = 0; i < 32; i++) {
      if (lastPeer[i] !== publicKey[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastPeerKey;
  }
  // The peer's key is public and parsed at once: one SPKI scratch, not a Buffer per DH.
  peerSpki.set(publicKey, SPKI_X25519_PREFIX.length);
  lastPeerKey = null; // a refused key leaves nothing behind
  const key = createPublicKey({ key: peerSpki, format: "der", type: "spki" });
  lastPeer.set(publicKey);
  lastPeerKey = key;
  return key;
}

/** Private KeyObjects of key pairs made here, so each scalar is imported once. */
const privateKeyObjects = new WeakMap<KeyPair, KeyObject>();

function importPrivate(privateKey: Uint8Array): KeyObject {
  const pkcs8 = der(PKCS8_X25519_PREFIX, privateKey);
  try {
    return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  } finally {
    pkcs8.fill(0);
  }
}

function importedPair(privateKey: Uint8Array, keyObject: KeyObject, publicKey: Uint8Array) {
  const pair: KeyPair = Object.freeze({
    privateKey: privateKey.slice(),
    publicKey: publicKey.slice(),
  });
  privateKeyObjects.set(pair, keyObject);
  return pair;
}

function freshKeyPair(privateKey: Uint8Array): KeyPair {
  const keyObject = importPrivate(privateKey);
  const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" });
  return importedPair(privateKey, keyObject, plain(spki).subarray(SPKI_X25519_PREFIX.length));
}

/**
 * Static keys come back on every handshake (a server's Noise key), and their
 * import costs more than a DH. A key seen a second time is kept imported, by
 * the SHA-256 of its scalar; a key seen once leaves only that digest behind.
 */
const STATIC_CACHE_LIMIT = 8;
const SEEN_LIMIT = 64;
const staticKeys = new Map<string, { keyObject: KeyObject; publicKey: Uint8Array }>();
const seenOnce = new Set<string>();

function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  expectLength(privateKey, 32, "X25519 private key");
  const id = createHash("sha256").update(privateKey).digest("base64");
  const hit = staticKeys.get(id);
  if (hit !== undefined) return importedPair(privateKey, hit.keyObject, hit.publicKey);
  const pair = freshKeyPair(privateKey);
  if (seenOnce.delete(id)) {
    if (staticKeys.size >= STATIC_CACHE_LIMIT) staticKeys.delete(staticKeys.keys().next().value!);
    staticKeys.set(id, {
      keyObject: privateKeyObjects.get(pair)!,
      publicKey: pair.publicKey.slice(),
    });
  } else {
    if (seenOnce.size >= SEEN_LIMIT) seenOnce.delete(seenOnce.values().next().value!);
    seenOnce.add(id);
  }
  return pair;
}

/** X25519 on node:crypto KeyObjects. */
export const nativeX25519: Dh = {
  name: "25519",
  dhLen: 32,
  generateKeyPair(): KeyPair {
    // One native call makes both KeyObjects: importing a random scalar and deriving
    // its public key took three (import, derive, export) and cost ~1.5× as much.
    // Never cached: an ephemeral is used once.
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    const pkcs8 = plain(privateKey.export({ format: "der", type: "pkcs8" }));
    const spki = plain(publicKey.export({ format: "der", type: "spki" }));
    try {
      return importedPair(
        rawKey(pkcs8, PKCS8_X25519_PREFIX),
        privateKey,
        rawKey(spki, SPKI_X25519_PREFIX),
      );
    } finally {
      pkcs8.fill(0);
    }
  },
  keyPairFromPrivate,
  dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array {
    expectLength(publicKey, 32, "X25519 public key");
    let privateKey = privateKeyObjects.get(keyPair);
    if (privateKey === undefined) {
      expectLength(keyPair.privateKey, 32, "X25519 private key");
      privateKey = importPrivate(keyPair.privateKey);
    }
    const key = privateKey;
    return checkedDh(() =>
      plain(diffieHellman({ privateKey: key, publicKey: peerKeyObject(publicKey) }))
    );
  },
};

/**
 * Messages up to this many bytes are sealed and opened by the WebAssembly
 * AEAD (`wasm_chacha_poly.ts`): node:crypto builds a `Cipheriv` stream object
 * and a native cipher resource per call, which costs more than the cipher
 * for small messages and churns malloc and the GC under load
 * (docs/PERFORMANCE.md). The two break even at 2–4 KiB; above, OpenSSL's
 * wider SIMD wins (about 1.8× at 64 KiB).
 */
export const SMALL_MESSAGE_LIMIT = 4096;

/**
 * ChaCha20-Poly1305 (RFC 8439): the WebAssembly AEAD for messages up to
 * {@link SMALL_MESSAGE_LIMIT}, node:crypto above (same output; both are
 * checked against noble and the Noise vectors).
 */
export const nativeChaChaPoly: Cipher = {
  name: "ChaChaPoly",
  encrypt(key, n, ad, plaintext, keyAt = 0): Uint8Array {
    if (plaintext.length <= SMALL_MESSAGE_LIMIT) {
      return wasmChaChaPoly.encrypt(key, n, ad, plaintext, keyAt);
    }
    return opensslChaChaPoly.encrypt(key, n, ad, plaintext, keyAt);
  },
  decrypt(key, n, ad, ciphertext, keyAt = 0): Uint8Array {
    if (ciphertext.length <= SMALL_MESSAGE_LIMIT + TAG_LENGTH) {
      return wasmChaChaPoly.decrypt(key, n, ad, ciphertext, keyAt);
    }
    return opensslChaChaPoly.decrypt(key, n, ad, ciphertext, keyAt);
  },
  encryptInPlace(key, n, ad, buf, at, length, keyAt = 0): void {
    if (length <= SMALL_MESSAGE_LIMIT) {
      wasmChaChaPoly.encryptInPlace!(key, n, ad, buf, at, length, keyAt);
    } else {
      buf.set(opensslChaChaPoly.encrypt(key, n, ad, buf.subarray(at, at + length), keyAt), at);
    }
  },
  decryptInPlace(key, n, ad, ciphertext, keyAt = 0): Uint8Array {
    if (ciphertext.length <= SMALL_MESSAGE_LIMIT + TAG_LENGTH) {
      return wasmChaChaPoly.decryptInPlace!(key, n, ad, ciphertext, keyAt);
    }
    return opensslChaChaPoly.decrypt(key, n, ad, ciphertext, keyAt);
  },
  openInPlace(key, n, ad, ciphertext, keyAt = 0): number {
    if (ciphertext.length <= SMALL_MESSAGE_LIMIT + TAG_LENGTH) {
      return wasmChaChaPoly.openInPlace!(key, n, ad, ciphertext, keyAt);
    }
    const plaintext = opensslChaChaPoly.decrypt(key, n, ad, ciphertext, keyAt);
    ciphertext.set(plaintext);
    return plaintext.length;
  },
};

/** ChaCha20-Poly1305 on node:crypto alone, one `Cipheriv`/`Decipheriv` per message. */
export const opensslChaChaPoly: Cipher = {
  name: "ChaChaPoly",
  encrypt(key, n, ad, plaintext, keyAt = 0): Uint8Array {
    const cipher = createCipheriv("chacha20-poly1305", keyBytes(key, keyAt), chachaNonce(n), {
      authTagLength: TAG_LENGTH,
    });
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    cipher.final();
    const out = new Uint8Array(plaintext.length + TAG_LENGTH);
    out.set(body);
    out.set(cipher.getAuthTag(), plaintext.length);
    return out;
  },
  decrypt(key, n, ad, ciphertext, keyAt = 0): Uint8Array {
    const bodyLength = ciphertext.length - TAG_LENGTH;
    if (bodyLength < 0) throw new NoiseError("decrypt-failed", "ciphertext shorter than its tag");
    const decipher = createDecipheriv("chacha20-poly1305", keyBytes(key, keyAt), chachaNonce(n), {
      authTagLength: TAG_LENGTH,
    });
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: bodyLength });
    const body = decipher.update(ciphertext.subarray(0, bodyLength));
    try {
      decipher.final();
    } catch {
      body.fill(0); // never hand out unauthenticated plaintext
      throw new NoiseError("decrypt-failed", "authentication failed");
    }
    return plain(body);
  },
};

function nativeHash(name: string, algorithm: string, hashLen: number, blockLen: number): Hash {
  const digest = (...parts: Uint8Array[]): Uint8Array => {
    const h = createHash(algorithm);
    for (const part of parts) h.update(part);
    return plain(h.digest());
  };
  return {
    name,
    hashLen,
    blockLen,
    digest,
    hmac: (key, ...parts) => hmacFromDigest(digest, blockLen, key, parts),
  };
}

function totalLength(parts: readonly Uint8Array[]): number {
  let length = 0;
  for (let i = 0; i < parts.length; i++) length += parts[i].length;
  return length;
}

/** BLAKE2s-256 on node:crypto alone (inputs too long for the WebAssembly module). */
const opensslBlake2s = nativeHash("BLAKE2s", "blake2s256", 32, 64);

/**
 * BLAKE2s-256, its HMAC and the Noise HKDF in WebAssembly (`wasm_blake2s.ts`)
 * up to {@link WASM_HASH_LIMIT} input bytes, node:crypto beyond (same output):
 * a `createHash` object per call costs more than the hashing at handshake
 * sizes, and an HKDF is one call into the module instead of six to nine
 * digests.
 */
export const nativeBlake2s: Hash = {
  name: "BLAKE2s",
  hashLen: 32,
  blockLen: 64,
  digest: blake2sDigest,
  hmac: blake2sHmac,
  hkdf: (chainingKey, inputKeyMaterial, numOutputs) =>
    chainingKey.length === 32 && inputKeyMaterial.length <= WASM_HASH_LIMIT
      ? hkdfBlake2sWasm(chainingKey, inputKeyMaterial, numOutputs)
      : hkdfFromHmac({ hmac: blake2sHmac }, chainingKey, inputKeyMaterial, numOutputs),
};

function blake2sDigest(...parts: Uint8Array[]): Uint8Array {
  return totalLength(parts) <= WASM_HASH_LIMIT
    ? blake2sWasm(parts)
    : opensslBlake2s.digest(...parts);
}

function blake2sHmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const k = key.length > 64 ? blake2sDigest(key) : key; // RFC 2104: a long key is hashed first
  return totalLength(parts) <= WASM_HASH_LIMIT
    ? hmacBlake2sWasm(k, parts)
    : hmacFromDigest(blake2sDigest, 64, k, parts);
}

/** BLAKE2b-512 on node:crypto (HASHLEN 64, BLOCKLEN 128). */
export const nativeBlake2b: Hash = nativeHash("BLAKE2b", "blake2b512", 64, 128);

/** SHA-256 on node:crypto. */
export const nativeSha256: Hash = nativeHash("SHA256", "sha256", 32, 64);
