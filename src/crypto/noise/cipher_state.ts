/**
 * CipherState (Noise §5.1): a key and a 64-bit nonce, encrypting in order.
 *
 * The nonce is a JavaScript number, not a bigint: a bigint counter
 * allocated a new heap object per message. Numbers count exactly up to
 * 2^53, so a CipherState stops at {@link MAX_COUNTER_NONCE} (2^53 - 1) with
 * `nonce-exhausted`, long before Noise's reserved 2^64-1 (sessions rekey
 * every `rekey_after_messages`, and 2^53 messages are centuries of traffic).
 *
 * @module
 */

import { NoiseError } from "./errors.ts";
import {
  type Cipher,
  expectLength,
  MAX_COUNTER_NONCE,
  MAX_NONCE,
  type Nonce,
  TAG_LENGTH,
} from "./primitives.ts";

const ZEROS_32 = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

/** An optional cipher key plus the nonce of the next message. */
export class CipherState {
  readonly #cipher: Cipher;
  /** The key is `#key[#keyAt..#keyAt+32)` (`#key` may hold other keys too). */
  #key: Uint8Array | null = null;
  #keyAt = 0;
  /** The next nonce: a safe integer (a small integer field, no allocation per message). */
  #nonce = 0;

  /** A CipherState with no key (InitializeKey(empty)). */
  constructor(cipher: Cipher) {
    this.#cipher = cipher;
  }

  /**
   * InitializeKey(key): sets k (copied) and resets n to 0; `null` clears the
   * key. With `into`, the copy goes to `into[at..at+32)`, a buffer the caller
   * shares between CipherStates (Split() puts both keys of a session and its
   * handshake hash in one: one ArrayBuffer, backing store and array instead
   * of a view per key); by default to a fresh array.
   */
  initializeKey(key: Uint8Array | null, into?: Uint8Array, at = 0): void {
    this.#wipe();
    if (key === null) {
      this.#key = null;
      this.#keyAt = 0;
    } else {
      expectLength(key, 32, "cipher key");
      if (into === undefined) {
        this.#key = key.slice();
        this.#keyAt = 0;
      } else {
        if (
          !(into instanceof Uint8Array) || !Number.isInteger(at) || at < 0 || at + 32 > into.length
        ) {
          throw new NoiseError(
            "invalid-argument",
            "cipher key storage must hold 32 bytes at its offset",
          );
        }
        into.set(key, at);
        this.#key = into;
        this.#keyAt = at;
      }
    }
    this.#nonce = 0;
  }

  /** HasKey(): whether k is set. */
  hasKey(): boolean {
    return this.#key !== null;
  }

  /**
   * SetNonce(n): for out-of-order transports. Takes an integer in
   * [0, 2^53-1] (a number or a bigint); {@link MAX_COUNTER_NONCE} is accepted
   * but then unusable, as Noise's 2^64-1 would be.
   */
  setNonce(nonce: Nonce): void {
    const n = typeof nonce === "bigint" && nonce >= 0n && nonce <= BigInt(MAX_COUNTER_NONCE)
      ? Number(nonce)
      : nonce;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
      throw new NoiseError("invalid-argument", "nonce must be an integer in [0, 2^53-1]");
    }
    this.#nonce = n;
  }

  /** The nonce the next EncryptWithAd/DecryptWithAd will use. */
  get nonce(): number {
    return this.#nonce;
  }

  /** EncryptWithAd(ad, plaintext): passes plaintext through while no key is set. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#key === null) return plaintext;
    this.#checkNonce();
    const out = this.#cipher.encrypt(this.#key, this.#nonce, ad, plaintext, this.#keyAt);
    this.#nonce++;
    return out;
  }

  /**
   * DecryptWithAd(ad, ciphertext): passes ciphertext through while no key is
   * set. On authentication failure the nonce is left unchanged.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#key === null) return ciphertext;
    this.#checkNonce();
    const out = this.#cipher.decrypt(this.#key, this.#nonce, ad, ciphertext, this.#keyAt);
    this.#nonce++;
    return out;
  }

  /**
   * EncryptWithAd in place: `buf[at..at+length)` becomes the ciphertext and
   * the tag is written after it (`buf` needs 16 bytes of room there). Returns
   * the sealed length (`length` + 16; `length` while no key is set).
   */
  encryptInPlace(ad: Uint8Array, buf: Uint8Array, at: number, length: number): number {
    if (this.#key === null) return length;
    this.#checkNonce();
    if (this.#cipher.encryptInPlace) {
      this.#cipher.encryptInPlace(this.#key, this.#nonce, ad, buf, at, length, this.#keyAt);
    } else {
      const sealed = this.#cipher.encrypt(
        this.#key,
        this.#nonce,
        ad,
        buf.subarray(at, at + length),
        this.#keyAt,
      );
      buf.set(sealed, at);
    }
    this.#nonce++;
    return length + TAG_LENGTH;
  }

  /**
   * DecryptWithAd that may write the plaintext over `ciphertext` (returned
   * as a view of it, or as new bytes). On failure the nonce and `ciphertext`
   * are unchanged.
   */
  decryptInPlace(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#key === null) return ciphertext;
    this.#checkNonce();
    const out = this.#cipher.decryptInPlace
      ? this.#cipher.decryptInPlace(this.#key, this.#nonce, ad, ciphertext, this.#keyAt)
      : this.#cipher.decrypt(this.#key, this.#nonce, ad, ciphertext, this.#keyAt);
    this.#nonce++;
    return out;
  }

  /**
   * DecryptWithAd in place: the plaintext is written over the start of
   * `ciphertext` and its length returned (no view of it is made; the length
   * itself while no key is set). On failure the nonce and `ciphertext` are
   * unchanged.
   */
  openInPlace(ad: Uint8Array, ciphertext: Uint8Array): number {
    if (this.#key === null) return ciphertext.length;
    this.#checkNonce();
    let length: number;
    if (this.#cipher.openInPlace) {
      length = this.#cipher.openInPlace(this.#key, this.#nonce, ad, ciphertext, this.#keyAt);
    } else {
      const out = this.#cipher.decryptInPlace
        ? this.#cipher.decryptInPlace(this.#key, this.#nonce, ad, ciphertext, this.#keyAt)
        : this.#cipher.decrypt(this.#key, this.#nonce, ad, ciphertext, this.#keyAt);
      // (Bytes of its own, or a view of `ciphertext` elsewhere than at its start.)
      if (out.buffer !== ciphertext.buffer || out.byteOffset !== ciphertext.byteOffset) {
        ciphertext.set(out);
      }
      length = out.length;
    }
    this.#nonce++;
    return length;
  }

  /** Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zeros); n unchanged. */
  rekey(): void {
    if (this.#key === null) throw new NoiseError("invalid-state", "rekey without a key");
    const out = this.#cipher.encrypt(this.#key, MAX_NONCE, EMPTY, ZEROS_32, this.#keyAt);
    this.#key.set(out.subarray(0, 32), this.#keyAt);
    out.fill(0);
  }

  /** Forgets the key (best effort: the engine may hold copies). */
  destroy(): void {
    this.#wipe();
    this.#key = null;
  }

  /** Zeroes this state's own 32 key bytes (not the rest of a shared buffer). */
  #wipe(): void {
    this.#key?.fill(0, this.#keyAt, this.#keyAt + 32);
  }

  #checkNonce(): void {
    if (this.#nonce >= MAX_COUNTER_NONCE) {
      throw new NoiseError(
        "nonce-exhausted",
        "nonce space exhausted (2^53-1); rekey cannot help, re-handshake",
      );
    }
  }
}
