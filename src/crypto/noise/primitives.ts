/**
 * The three primitive families a Noise protocol is built from (Noise §4),
 * as small interfaces so the state machines are backend-agnostic. A
 * {@linkcode CryptoSuite} bundles one of each, chosen by the protocol name.
 *
 * @module
 */

import { NoiseError } from "./errors.ts";

/** An X25519 key pair; both halves are 32 bytes. */
export interface KeyPair {
  /** Raw 32-byte private scalar (clamped by the DH, not here). */
  readonly privateKey: Uint8Array;
  /** Raw 32-byte u-coordinate. */
  readonly publicKey: Uint8Array;
}

/** Noise DH functions (§4.1). */
export interface Dh {
  /** Name as it appears in a protocol name, e.g. `25519`. */
  readonly name: string;
  /** DHLEN: bytes in a public key and in a DH output. */
  readonly dhLen: number;
  /** GENERATE_KEYPAIR() from fresh randomness. */
  generateKeyPair(): KeyPair;
  /** Derives the key pair of a raw private key. */
  keyPairFromPrivate(privateKey: Uint8Array): KeyPair;
  /**
   * DH(key_pair, public_key). Throws `NoiseError("invalid-public-key")` when
   * the output is all zeros (a low-order point).
   */
  dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array;
}

/**
 * A Noise nonce (a 64-bit counter): a `number` on the transport path (a
 * safe integer, no allocation per message; {@link CipherState} counts with
 * one) or a `bigint` where the whole 64-bit range matters (REKEY's 2^64-1,
 * test vectors).
 */
export type Nonce = number | bigint;

/** The nonce's low 32 bits, as an unsigned number. */
export function nonceLow(n: Nonce): number {
  return typeof n === "number" ? n >>> 0 : Number(BigInt.asUintN(32, n));
}

/** The nonce's high 32 bits, as an unsigned number (`n` below 2^64). */
export function nonceHigh(n: Nonce): number {
  // A safe integer divided by 2^32 is below 2^21: `>>> 0` truncates it exactly.
  return typeof n === "number" ? (n / 0x1_0000_0000) >>> 0 : Number(BigInt.asUintN(32, n >> 32n));
}

const nonceBytes = new Uint8Array(12);
const nonceView = new DataView(nonceBytes.buffer);

/**
 * The 12-byte ChaCha20-Poly1305 nonce of `n` (4 zero bytes, then n as u64
 * LE) in a scratch buffer that the next call overwrites: for a cipher call
 * that reads it at once (no allocation per message).
 */
export function chachaNonce(n: Nonce): Uint8Array {
  nonceView.setUint32(0, 0, true);
  nonceView.setUint32(4, nonceLow(n), true);
  nonceView.setUint32(8, nonceHigh(n), true);
  return nonceBytes;
}

/**
 * Noise cipher functions (§4.2): an AEAD keyed with 32 bytes and a 64-bit
 * nonce. The key is `key[keyAt..keyAt+32)` (`keyAt` defaults to 0): a
 * session keeps both its keys in one buffer, and a view per key was a
 * 0.1 KiB object held per key for the session's life.
 */
export interface Cipher {
  /** Name as it appears in a protocol name, e.g. `ChaChaPoly`. */
  readonly name: string;
  /** ENCRYPT(k, n, ad, plaintext): ciphertext followed by a 16-byte tag. */
  encrypt(
    key: Uint8Array,
    nonce: Nonce,
    ad: Uint8Array,
    plaintext: Uint8Array,
    keyAt?: number,
  ): Uint8Array;
  /**
   * DECRYPT(k, n, ad, ciphertext). Throws `NoiseError("decrypt-failed")` on
   * authentication failure, in which case nothing is returned.
   */
  decrypt(
    key: Uint8Array,
    nonce: Nonce,
    ad: Uint8Array,
    ciphertext: Uint8Array,
    keyAt?: number,
  ): Uint8Array;
  /**
   * ENCRYPT in place (optional; CipherState copies without it): the
   * plaintext `buf[at..at+length)` becomes the ciphertext, the tag follows it.
   */
  encryptInPlace?(
    key: Uint8Array,
    nonce: Nonce,
    ad: Uint8Array,
    buf: Uint8Array,
    at: number,
    length: number,
    keyAt?: number,
  ): void;
  /**
   * DECRYPT that may write the plaintext over `ciphertext` (optional): returns
   * the plaintext, a view of `ciphertext` or new bytes. On authentication
   * failure it throws and `ciphertext` is unchanged.
   */
  decryptInPlace?(
    key: Uint8Array,
    nonce: Nonce,
    ad: Uint8Array,
    ciphertext: Uint8Array,
    keyAt?: number,
  ): Uint8Array;
  /**
   * DECRYPT in place (optional): the plaintext is written over the start of
   * `ciphertext` and its length (the ciphertext's less the tag) returned, so
   * no view of it is made. On authentication failure it throws and
   * `ciphertext` is unchanged.
   */
  openInPlace?(
    key: Uint8Array,
    nonce: Nonce,
    ad: Uint8Array,
    ciphertext: Uint8Array,
    keyAt?: number,
  ): number;
}

/** The 32 key bytes at `keyAt` as their own view (for APIs that take a whole key; allocates unless it is one). */
export function keyBytes(key: Uint8Array, keyAt = 0): Uint8Array {
  return keyAt === 0 && key.length === 32 ? key : key.subarray(keyAt, keyAt + 32);
}

/** Noise hash functions (§4.3) with the HMAC built on them. */
export interface Hash {
  /** Name as it appears in a protocol name, e.g. `BLAKE2s`. */
  readonly name: string;
  /** HASHLEN: 32 or 64. */
  readonly hashLen: number;
  /** BLOCKLEN: the hash's internal block size, used by HMAC. */
  readonly blockLen: number;
  /** HASH(parts[0] || parts[1] || ...). */
  digest(...parts: Uint8Array[]): Uint8Array;
  /** HMAC-HASH(key, parts[0] || parts[1] || ...) per RFC 2104. */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /**
   * HKDF(chaining_key, input_key_material, num_outputs) of §4.3, when the
   * hash has a faster way than its {@link hmac} three times (absent: that).
   */
  hkdf?(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[];
}

/** One DH, cipher and hash: everything a concrete protocol needs. */
export interface CryptoSuite {
  /** The DH functions, e.g. X25519. */
  readonly dh: Dh;
  /** The AEAD, e.g. ChaChaPoly. */
  readonly cipher: Cipher;
  /** The hash, e.g. BLAKE2s. */
  readonly hash: Hash;
}

/** Which implementation of the primitives to use. */
export type Backend = "native" | "noble";

/** The largest Noise message, handshake or transport (§3). */
export const MAX_MESSAGE_LENGTH = 65535;

/** Bytes an AEAD tag adds to every ciphertext. */
export const TAG_LENGTH = 16;

/** 2^64 - 1: reserved by Noise, used only by REKEY. */
export const MAX_NONCE = 0xffff_ffff_ffff_ffffn;

/**
 * The nonce at which a {@link CipherState} stops: 2^53 - 1, the largest
 * counter a JavaScript number holds exactly. Noise only forbids 2^64-1; a
 * CipherState refuses to encrypt or decrypt at this one, long before, with
 * `nonce-exhausted` (sessions rekey after `rekey_after_messages`, 10^6 by
 * default, and 2^53 messages would take 285 years at a million a second).
 */
export const MAX_COUNTER_NONCE = Number.MAX_SAFE_INTEGER;

/** Fails unless `bytes` is exactly `length` long (message names the field, not its value). */
export function expectLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new NoiseError("invalid-argument", `${what} must be ${length} bytes`);
  }
}

/**
 * The X25519 output `compute` returns, or `NoiseError("invalid-public-key")`
 * for a low-order public key: when the backend refuses it itself (OpenSSL
 * and noble both throw on an all-zero secret) and when the output is all
 * zeros.
 */
export function checkedDh(compute: () => Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = compute();
  } catch {
    throw new NoiseError("invalid-public-key", "X25519 with a low-order public key");
  }
  if (isAllZero(shared)) {
    throw new NoiseError("invalid-public-key", "X25519 with a low-order public key");
  }
  return shared;
}

/**
 * True when every byte of `bytes` is zero, examining all of them regardless
 * (the input is a DH secret, so no early exit).
 */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}
