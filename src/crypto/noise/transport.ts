/**
 * The post-handshake channel: one CipherState per direction, empty
 * associated data, messages bounded by the 65535-byte Noise limit.
 *
 * @module
 */

import type { CipherState } from "./cipher_state.ts";
import { NoiseError } from "./errors.ts";
import { MAX_MESSAGE_LENGTH, TAG_LENGTH } from "./primitives.ts";

/** Largest plaintext a transport message can carry. */
export const MAX_TRANSPORT_PLAINTEXT = MAX_MESSAGE_LENGTH - TAG_LENGTH;

const EMPTY = new Uint8Array(0);

/** An established Noise session: encrypts outgoing and decrypts incoming messages in order. */
export interface NoiseTransport {
  /** Encrypts with the next send nonce; `plaintext` at most 65519 bytes. */
  encrypt(plaintext: Uint8Array): Uint8Array;
  /**
   * Decrypts with the next receive nonce. Throws `NoiseError` on tampering
   * (nonce unchanged, so a forged message does not desynchronise the session).
   */
  decrypt(ciphertext: Uint8Array): Uint8Array;
  /**
   * {@link encrypt} in place: `buf[at..at+length)` becomes the ciphertext and
   * the 16-byte tag is written after it. Returns the sealed length.
   */
  encryptInPlace(buf: Uint8Array, at: number, length: number): number;
  /**
   * {@link decrypt} that may write the plaintext over `ciphertext` (the
   * caller hands it over): returns the plaintext, usually a view of it. On
   * failure it throws and `ciphertext` is unchanged.
   */
  decryptInPlace(ciphertext: Uint8Array): Uint8Array;
  /**
   * {@link decrypt} in place, without a view: the plaintext is written over
   * the start of `ciphertext` (the caller hands it over) and its length
   * returned. On failure it throws and `ciphertext` is unchanged.
   */
  openInPlace(ciphertext: Uint8Array): number;
  /** Rekeys the sending direction; the peer must call `rekeyRecv` at the same point. */
  rekeySend(): void;
  /** Rekeys the receiving direction, mirroring the peer's `rekeySend`. */
  rekeyRecv(): void;
  /** Nonce of the next outgoing message. */
  readonly sendNonce: number;
  /** Nonce of the next incoming message. */
  readonly recvNonce: number;
  /** The final handshake hash, for channel binding. */
  readonly handshakeHash: Uint8Array;
  /** Forgets both keys; later calls fail. */
  destroy(): void;
}

/** {@linkcode NoiseTransport} over the two CipherStates from Split(). */
export class CipherStatePair implements NoiseTransport {
  readonly #send: CipherState;
  readonly #recv: CipherState;
  /** The hash is `#hashIn[#hashAt..]` (Split() keeps it after the keys, in one buffer). */
  readonly #hashIn: Uint8Array;
  readonly #hashAt: number;

  /** `handshakeHash[hashAt..]` is the final handshake hash (kept, not copied). */
  constructor(send: CipherState, recv: CipherState, handshakeHash: Uint8Array, hashAt = 0) {
    this.#send = send;
    this.#recv = recv;
    this.#hashIn = handshakeHash;
    this.#hashAt = hashAt;
  }

  encrypt(plaintext: Uint8Array): Uint8Array {
    this.#checkPlaintext(plaintext.length);
    return this.#send.encryptWithAd(EMPTY, plaintext);
  }

  encryptInPlace(buf: Uint8Array, at: number, length: number): number {
    this.#checkPlaintext(length);
    return this.#send.encryptInPlace(EMPTY, buf, at, length);
  }

  decrypt(ciphertext: Uint8Array): Uint8Array {
    this.#checkCiphertext(ciphertext.length);
    return this.#recv.decryptWithAd(EMPTY, ciphertext);
  }

  decryptInPlace(ciphertext: Uint8Array): Uint8Array {
    this.#checkCiphertext(ciphertext.length);
    return this.#recv.decryptInPlace(EMPTY, ciphertext);
  }

  openInPlace(ciphertext: Uint8Array): number {
    this.#checkCiphertext(ciphertext.length);
    return this.#recv.openInPlace(EMPTY, ciphertext);
  }

  rekeySend(): void {
    this.#requireKey(this.#send);
    this.#send.rekey();
  }

  rekeyRecv(): void {
    this.#requireKey(this.#recv);
    this.#recv.rekey();
  }

  get sendNonce(): number {
    return this.#send.nonce;
  }

  get recvNonce(): number {
    return this.#recv.nonce;
  }

  get handshakeHash(): Uint8Array {
    return this.#hashIn.slice(this.#hashAt);
  }

  destroy(): void {
    this.#send.destroy();
    this.#recv.destroy();
  }

  #checkPlaintext(length: number): void {
    if (length > MAX_TRANSPORT_PLAINTEXT) {
      throw new NoiseError(
        "message-too-long",
        `transport plaintext of ${length} bytes exceeds ${MAX_TRANSPORT_PLAINTEXT}`,
      );
    }
    this.#requireKey(this.#send);
  }

  #checkCiphertext(length: number): void {
    if (length > MAX_MESSAGE_LENGTH) {
      throw new NoiseError(
        "message-too-long",
        `transport message of ${length} bytes exceeds ${MAX_MESSAGE_LENGTH}`,
      );
    }
    if (length < TAG_LENGTH) {
      throw new NoiseError("message-too-short", "transport message shorter than its tag");
    }
    this.#requireKey(this.#recv);
  }

  #requireKey(cs: CipherState): void {
    // Without this, a destroyed CipherState would pass data through in clear.
    if (!cs.hasKey()) throw new NoiseError("invalid-state", "transport has been destroyed");
  }
}
